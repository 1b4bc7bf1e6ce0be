"""relp"""
