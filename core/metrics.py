"""Prometheus metrics, one set per process. Every deliberate drop is counted with its reason.

One name per component, spelt one way in every label: a stage is `stage="<stage name>"`
(normalizer, alert-indexer …); a collector is `collector="<collector name>"` (syslog-tcp, http,
file …) in the metrics only collectors have, and `stage="<collector name>"` in the counters they
share with the stages (produced, errors, dropped, retries). Stage and collector names never collide.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Seconds; from "a few hundred milliseconds" (the stream on a quiet day) to "an hour behind".
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
API_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


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
        self.detector_reads = Counter(
            "canhgac_detector_events_read_total",
            "Events the detector matched, by how it read them: `bytes` (natively from the JSON, decoded "
            "only when a rule matched) or `decoded` (orjson first: threat-intel indicators loaded, or an "
            "event the byte path hands back — a value only the Python engine reads, invalid JSON …)",
            ["read"],
            registry=r,
        )
        self.correlation_late_events = Counter(
            "canhgac_correlation_late_events_total",
            "Events older than their partition's event time minus the allowed lateness, sent to the "
            "correlation late path, by correlation rule",
            ["rule"],
            registry=r,
        )
        self.correlation_checkpoint_bytes = Gauge(
            "canhgac_correlation_checkpoint_bytes",
            "Size of the newest correlation checkpoint this replica wrote, by input partition (the "
            "changelog refuses records over 16 MiB)",
            ["partition"],
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
        self.consumer_lag = Gauge(
            "canhgac_consumer_lag_records",
            "Records of a partition this process's stage has not consumed yet (high watermark - position)",
            ["stage", "topic", "partition"],
            registry=r,
        )
        self.event_to_alert_seconds = Histogram(
            "canhgac_event_to_alert_seconds",
            "From a collector receiving an event (else its @timestamp) to the alert it raised or updated"
            " being acknowledged by Kafka",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.notifications = Counter(
            "canhgac_notifications_total",
            "Notification delivery attempts by outcome (sent, retrying, failed)",
            ["outcome"],
            registry=r,
        )
        self.notifications_escalated = Counter(
            "canhgac_notifications_escalated_total", "Escalations planned for unacknowledged alerts", registry=r
        )
        self.outbox_depth = Gauge(
            "canhgac_notify_outbox_depth",
            "Notifications in the notifier's outbox by status (pending, retrying, sending are still to send)",
            ["status"],
            registry=r,
        )
        self.api_requests = Counter(
            "canhgac_api_requests_total",
            "API requests by route template, method and status code",
            ["route", "method", "status"],
            registry=r,
        )
        self.api_request_seconds = Histogram(
            "canhgac_api_request_seconds",
            "API request time by route template and method",
            ["route", "method"],
            buckets=API_BUCKETS,
            registry=r,
        )
