"""Correlation on the stream: an SSH brute force followed by a successful login, sent as syslog,
raises the province's correlation alert through real Kafka and OpenSearch."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from canhgac.core.store import make_client

from canhgac.demo_feed import send_lines
from canhgac.runtime import Runtime
from tests.conftest import eventually

pytestmark = pytest.mark.e2e


async def test_bruteforce_then_success_raises_correlation_alert(test_settings) -> None:
    runtime = Runtime(test_settings, stages=("normalizer", "detector", "alert-indexer"), api=False)
    task = asyncio.create_task(runtime.run())
    await asyncio.wait_for(runtime.started.wait(), 120)
    client = make_client(test_settings.opensearch, component="admin")
    try:
        assert runtime.collector is not None and runtime.collector.port
        t0 = datetime.now(UTC) - timedelta(minutes=2)

        def line(i: int, text: str) -> str:
            ts = (t0 + timedelta(seconds=i)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            return f"<38>1 {ts} tthdl-app01 sshd {4000 + i} - - {text}"

        lines = [line(i, f"Failed password for canbo01 from 203.0.113.77 port {41000 + i} ssh2") for i in range(7)]
        lines.append(line(10, "Accepted password for canbo01 from 203.0.113.77 port 41100 ssh2"))
        await send_lines("127.0.0.1", runtime.collector.port, lines)

        async def correlation_alerts() -> list[dict] | None:
            await client.indices.refresh(index=test_settings.opensearch.alerts_index)
            found = await client.search(
                index=test_settings.opensearch.alerts_index,
                body={"size": 50, "query": {"exists": {"field": "correlation.type"}}},
            )
            hits = [h["_source"] for h in found["hits"]["hits"]]
            titles = {h["rule"]["title"] for h in hits}
            return hits if any("followed by a successful login" in t for t in titles) else None

        alerts = await eventually(correlation_alerts, timeout_secs=60)
        chain = next(a for a in alerts if "followed by a successful login" in a["rule"]["title"])
        assert chain["canhgac"]["group"].get("user.name") == "canbo01"
        assert chain["status"] == "new" and chain["rule"]["author"]
    finally:
        await client.close()
        runtime.request_stop()
        await asyncio.wait_for(task, 60)
