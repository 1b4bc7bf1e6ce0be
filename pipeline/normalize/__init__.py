"""Parsers: raw envelope -> ECS event. One small class per format, registered by name."""
