"""Collectors: receive bytes from agencies, frame them, wrap them in raw envelopes, send to Kafka."""
