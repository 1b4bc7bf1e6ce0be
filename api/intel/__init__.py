"""Threat intelligence through the API: the indicator store, imports, and feeds with their poller."""
