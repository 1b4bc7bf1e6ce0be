"""HTTP ingest: a native JSON/NDJSON/text endpoint and an Elasticsearch `_bulk`-compatible one."""
