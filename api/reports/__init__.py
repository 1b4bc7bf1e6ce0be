"""Periodic reports (daily/weekly/monthly PDF per agency and for the province) and their e-mail."""
