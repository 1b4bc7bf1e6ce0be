"""The metrics listener of a process without the API: /metrics, /healthz, /readyz (no network)."""

from __future__ import annotations

import httpx
from canhgac.core.metrics import Metrics

from canhgac.ops_listener import ops_app


async def test_metrics_health_and_readiness() -> None:
    metrics = Metrics()
    metrics.received.labels("syslog-tcp").inc(3)
    reason: list[str | None] = ["stages waiting for Kafka and OpenSearch"]
    app = ops_app(metrics, lambda: reason[0])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ops") as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        waiting = await client.get("/readyz")
        assert waiting.status_code == 503
        assert waiting.json()["reason"] == reason[0]
        reason[0] = None
        assert (await client.get("/readyz")).status_code == 200
        page = await client.get("/metrics")
        assert page.status_code == 200
        assert 'canhgac_events_received_total{collector="syslog-tcp"} 3.0' in page.text
        assert (await client.get("/api/v1/alerts")).status_code == 404  # nothing else is served
