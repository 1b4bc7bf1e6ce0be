"""The dashboard's figures in one request: alerts over time, top rules and hosts, ingestion."""
