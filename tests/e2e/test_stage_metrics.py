"""A stage process without the API is observable: its metrics listener shows the detector's event ->
alert latency (measured from receipt, not from the event's own clock) and each stage's consumer lag
per partition, over real Kafka."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from canhgac.demo_feed import send_lines
from canhgac.runtime import Runtime
from tests.conftest import eventually

pytestmark = pytest.mark.e2e


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    out = []
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            head, number = line.rsplit(" ", 1)
            labels = {}
            if "{" in head:
                for pair in head[head.index("{") + 1 : -1].split('",'):
                    key, _, val = pair.partition('="')
                    labels[key] = val.rstrip('"')
            out.append((labels, float(number)))
    return out


async def test_detector_process_reports_latency_and_lag(test_settings) -> None:  # type: ignore[no-untyped-def]
    runtime = Runtime(test_settings, stages=("normalizer", "detector"), api=False)
    task = asyncio.create_task(runtime.run())
    await asyncio.wait_for(runtime.started.wait(), 120)
    try:
        assert runtime.collector is not None and runtime.collector.port
        assert runtime.ops_listener is not None and runtime.ops_listener.port
        # Stamped days before now by the sender's clock: latency must not be measured from it.
        lines = [
            f"<38>1 2026-11-26T03:10:{i:02d}.000Z metrics-host sshd {3000 + i} - - "
            f"Failed password for root from 203.0.113.77 port {50000 + i} ssh2"
            for i in range(3)
        ]
        await send_lines("127.0.0.1", runtime.collector.port, lines)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{runtime.ops_listener.port}") as ops:

            async def alerted() -> str | None:
                text = (await ops.get("/metrics")).text
                counts = samples(text, "canhgac_event_to_alert_seconds_count")
                return text if counts and counts[0][1] >= 1 else None

            text = await eventually(alerted, timeout_secs=90)
            assert (await ops.get("/readyz")).status_code == 200
        count = samples(text, "canhgac_event_to_alert_seconds_count")[0][1]
        within_an_hour = [
            v for labels, v in samples(text, "canhgac_event_to_alert_seconds_bucket") if labels["le"] == "3600.0"
        ]
        assert within_an_hour == [count]
        lag = samples(text, "canhgac_consumer_lag_records")
        stages = {labels["stage"] for labels, _ in lag}
        assert {"normalizer", "detector"} <= stages
        assert {labels["topic"] for labels, _ in lag if labels["stage"] == "detector"} == {
            test_settings.kafka.topics.events
        }
        assert all(labels["partition"] in {"0", "1"} for labels, _ in lag)
    finally:
        runtime.request_stop()
        await asyncio.wait_for(task, 60)
