"""The on-disk spool collectors write to while Kafka is unreachable, and its sink wrapper."""
