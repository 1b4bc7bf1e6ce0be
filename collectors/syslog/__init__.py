"""syslog"""
