"""Lookup tables (core/lookups.py) through the API."""
