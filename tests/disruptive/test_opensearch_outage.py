"""OpenSearch stops for 8 s (plus its restart) in the middle of a stream: nothing lost, nothing twice, and the
indexer catches up by itself when it comes back."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from canhgac.demo_feed import send_lines
from canhgac.runtime import Runtime
from tests.conftest import REPO, eventually
from tests.integration.test_indexer_restart import count_docs

pytestmark = [pytest.mark.disruptive, pytest.mark.integration]
SERVICES = str(REPO / "deploy" / "local" / "services.sh")
# The indexer's back-off cap in this test (production: 30 s); the outage is longer (plus the
# restart), so the indexer retries with growing waits up to the cap, as in a long outage.
BACKOFF_MAX_SECS = 3.0
OUTAGE_SECS = 8


def services(*args: str) -> None:
    subprocess.run([SERVICES, *args], check=True, timeout=300)


async def test_indexer_rides_out_an_opensearch_outage(test_settings) -> None:
    n = 10_000
    pipeline = test_settings.pipeline.model_copy(update={"retry_backoff_max_secs": BACKOFF_MAX_SECS})
    settings = test_settings.model_copy(update={"pipeline": pipeline})
    runtime = Runtime(settings, stages=("normalizer", "indexer"), api=False)
    task = asyncio.create_task(runtime.run())
    await asyncio.wait_for(runtime.started.wait(), 120)
    try:
        assert runtime.collector is not None and runtime.collector.port
        port = runtime.collector.port
        lines = [f"<14>Nov 26 09:00:00 srv{i % 9} app[7]: outage-test {i}" for i in range(n)]
        await send_lines("127.0.0.1", port, lines[: n // 2])
        await eventually(lambda: _some_indexed(test_settings), timeout_secs=60, interval_secs=0.2)

        await asyncio.to_thread(services, "stop-opensearch")
        try:
            await send_lines("127.0.0.1", port, lines[n // 2 :])  # arrives while the store is down
            await asyncio.sleep(OUTAGE_SECS)
        finally:
            await asyncio.to_thread(services, "start")

        async def all_there() -> int | None:
            c = await count_docs(test_settings)
            return c if c >= n else None

        await eventually(all_there, timeout_secs=300, interval_secs=2)
        await asyncio.sleep(2)
        assert await count_docs(test_settings) == n
        assert runtime.metrics.retries.labels("indexer")._value.get() > 0  # it really did retry
    finally:
        runtime.request_stop()
        await asyncio.wait_for(task, 120)


async def _some_indexed(settings) -> bool:  # type: ignore[no-untyped-def]
    try:
        return await count_docs(settings) > 0
    except Exception:
        return False
