"""Prometheus metrics, one set per process. Every deliberate drop is counted with its reason."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """Created in the entry point and passed down, so tests can use a fresh registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.received = Counter(
            "canhgac_events_received_total", "Messages received by collectors", ["collector"], registry=r
        )
        self.produced = Counter(
            "canhgac_records_produced_total", "Records acknowledged by Kafka", ["stage", "topic"], registry=r
        )
        self.consumed = Counter("canhgac_records_consumed_total", "Records consumed from Kafka", ["stage"], registry=r)
        self.indexed = Counter(
            "canhgac_documents_indexed_total", "Documents written to OpenSearch", ["stage"], registry=r
        )
        self.alerts_raised = Counter(
            "canhgac_alerts_raised_total", "Alerts raised by the detector", ["level"], registry=r
        )
        self.alerts_suppressed = Counter(
            "canhgac_alerts_suppressed_total",
            "Rule matches not turned into alerts on purpose (an analyst's exception …), by reason",
            ["reason"],
            registry=r,
        )
        self.errors = Counter("canhgac_errors_total", "Errors by stage and kind", ["stage", "kind"], registry=r)
        self.dropped = Counter(
            "canhgac_events_dropped_total",
            "Messages dropped or refused on purpose, by reason",
            ["stage", "reason"],
            registry=r,
        )
        self.parse_errors = Counter(
            "canhgac_parse_errors_total", "Records kept as pipeline_error events", ["parser"], registry=r
        )
        self.dlq = Counter("canhgac_dlq_records_total", "Records sent to the DLQ", ["stage", "reason"], registry=r)
        self.retries = Counter("canhgac_retries_total", "Retried downstream writes", ["stage"], registry=r)
        self.batch_seconds = Histogram(
            "canhgac_batch_seconds", "Time to process one consumed batch", ["stage"], registry=r
        )
        self.connections = Gauge(
            "canhgac_collector_connections", "Open collector connections", ["collector"], registry=r
        )
        self.spool_bytes = Gauge(
            "canhgac_spool_bytes", "Bytes held in a collector's on-disk spool", ["collector"], registry=r
        )
        self.spooled = Counter("canhgac_records_spooled_total", "Records written to a spool", ["collector"], registry=r)
        self.rules_loaded = Gauge("canhgac_rules_loaded", "Sigma rules compiled", registry=r)
        self.rules_rejected = Gauge("canhgac_rules_rejected", "Sigma rules rejected", registry=r)
