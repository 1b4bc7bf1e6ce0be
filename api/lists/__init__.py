"""Watch and allow lists (core/watchlists.py) through the API."""
