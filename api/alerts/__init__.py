"""Alerts: list, filter, detail."""
