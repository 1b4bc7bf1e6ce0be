"""Threat intelligence without I/O: indicators (model, normalisation), the stream matcher, and the
feed formats (STIX 2.1, MISP feeds, CSV and plain lists) turned into indicators."""
