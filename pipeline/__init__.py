"""Kafka consumer stages: normalizer, indexer, detector, alert indexer. Each is its own group."""
