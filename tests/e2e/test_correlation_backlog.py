"""Correlation on event time through real Kafka and OpenSearch: a backlog replayed after a stop.

A detector runs and correlates recent events (its watermark and checkpoint are "now"), then stops.
While it is down, a brute force from three hours ago arrives (collected and normalized into the
events topic). The detector is started again: the backlog is far older than its watermark minus the
allowed lateness, so it goes to the late path and still raises the chain's alert, marked late, and
the late events are counted per rule — instead of vanishing uncounted as under wall-clock windows.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from canhgac.core.store import make_client

from canhgac.demo_feed import send_lines
from canhgac.runtime import Runtime
from tests.conftest import eventually

pytestmark = pytest.mark.e2e

CHAIN = "followed by a successful login"


def bruteforce(t0: datetime, user: str, address: str) -> list[str]:
    def line(i: int, text: str) -> str:
        ts = (t0 + timedelta(seconds=i)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return f"<38>1 {ts} tthdl-app01 sshd {4000 + i} - - {text}"

    lines = [line(i, f"Failed password for {user} from {address} port {41000 + i} ssh2") for i in range(7)]
    return [*lines, line(10, f"Accepted password for {user} from {address} port 41100 ssh2")]


async def run_until(runtime: Runtime, check: Any, send: list[str] | None = None) -> Any:
    task = asyncio.create_task(runtime.run())
    await asyncio.wait_for(runtime.started.wait(), 120)
    try:
        if send is not None:
            assert runtime.collector is not None and runtime.collector.port
            await send_lines("127.0.0.1", runtime.collector.port, send)
        return await eventually(check, timeout_secs=90)
    finally:
        runtime.request_stop()
        await asyncio.wait_for(task, 60)


async def test_backlog_replayed_after_a_stop_still_correlates_marked_late(test_settings) -> None:
    client = make_client(test_settings.opensearch, component="admin")
    alerts_index = test_settings.opensearch.alerts_index

    async def chain_alert(user: str) -> dict[str, Any] | None:
        if not await client.indices.exists(index=alerts_index):
            return None
        await client.indices.refresh(index=alerts_index)
        found = await client.search(
            index=alerts_index, body={"size": 50, "query": {"exists": {"field": "correlation.type"}}}
        )
        for hit in found["hits"]["hits"]:
            alert = hit["_source"]
            if CHAIN in alert["rule"]["title"] and alert["canhgac"]["group"].get("user.name") == user:
                return alert
        return None

    try:
        # 1. The detector correlates recent events: its watermark is now.
        now = datetime.now(UTC) - timedelta(minutes=1)
        first = Runtime(test_settings, stages=("normalizer", "detector", "alert-indexer"), api=False)
        recent = await run_until(first, lambda: chain_alert("canbo02"), bruteforce(now, "canbo02", "203.0.113.9"))
        assert recent["correlation"].get("late") is False

        # 2. While it is stopped, a three-hour-old brute force is collected and normalized.
        old = datetime.now(UTC) - timedelta(hours=3)
        events_pattern = f"{test_settings.opensearch.index_prefix}*"

        async def backlog_stored() -> bool | None:
            await client.indices.refresh(index=events_pattern)
            body = {"query": {"term": {"user.name": "canbo01"}}}
            counted = await client.count(index=events_pattern, body=body)
            return True if counted["count"] >= 8 else None

        collecting = Runtime(test_settings, stages=("normalizer", "indexer"), api=False)
        await run_until(collecting, backlog_stored, bruteforce(old, "canbo01", "203.0.113.77"))

        # 3. The detector starts later, restores its checkpoint and reads the backlog.
        detecting = Runtime(test_settings, stages=("detector", "alert-indexer"), collectors=False, api=False)
        late = await run_until(detecting, lambda: chain_alert("canbo01"))
        assert late["correlation"]["late"] is True
        assert late["first_seen"].startswith(old.date().isoformat())
        counted = {
            sample.labels["rule"]: sample.value
            for metric in detecting.metrics.correlation_late_events.collect()
            for sample in metric.samples
            if sample.name.endswith("_total")
        }
        assert sum(counted.values()) >= 8, counted
    finally:
        await client.close()


async def test_backlog_read_by_a_new_detector_is_on_time(test_settings) -> None:
    """No earlier state: a detector started after a three-hour-old backlog was produced reads it on
    event time (its idle time never jumps to the wall clock), so the chain alert is an ordinary one."""
    client = make_client(test_settings.opensearch, component="admin")
    alerts_index = test_settings.opensearch.alerts_index
    events_pattern = f"{test_settings.opensearch.index_prefix}*"
    old = datetime.now(UTC) - timedelta(hours=3)

    async def backlog_stored() -> bool | None:
        await client.indices.refresh(index=events_pattern)
        counted = await client.count(index=events_pattern, body={"query": {"term": {"user.name": "canbo03"}}})
        return True if counted["count"] >= 8 else None

    async def chain_alert() -> dict[str, Any] | None:
        if not await client.indices.exists(index=alerts_index):
            return None
        await client.indices.refresh(index=alerts_index)
        found = await client.search(
            index=alerts_index, body={"size": 50, "query": {"exists": {"field": "correlation.type"}}}
        )
        return next((h["_source"] for h in found["hits"]["hits"] if CHAIN in h["_source"]["rule"]["title"]), None)

    try:
        collecting = Runtime(test_settings, stages=("normalizer", "indexer"), api=False)
        await run_until(collecting, backlog_stored, bruteforce(old, "canbo03", "203.0.113.5"))
        detecting = Runtime(test_settings, stages=("detector", "alert-indexer"), collectors=False, api=False)
        alert = await run_until(detecting, chain_alert)
        assert alert["correlation"]["late"] is False
        assert alert["canhgac"]["group"].get("user.name") == "canbo03"
    finally:
        await client.close()
