"""The spool: Kafka unreachable -> records spooled (acknowledged once fsync'd) -> Kafka back ->
replayed exactly once and in order; a collector killed with a full spool delivers after restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from canhgac.core.envelope import RawEnvelope
from canhgac.core.errors import Overloaded

from tests.integration.collectors.helpers import make_sink, read_raw

pytestmark = pytest.mark.integration


def envelopes(start: int, n: int, source: str = "src-a") -> list[RawEnvelope]:
    return [
        RawEnvelope(source_id=source, agency="ag", collector="test", format="syslog", message=f"seq={i}")
        for i in range(start, start + n)
    ]


async def test_spooled_while_kafka_down_then_replayed_once_in_order(test_settings, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    down = await make_sink(test_settings, spool_dir, dead_kafka=True)
    assert down.spooling
    for start in range(0, 3000, 500):
        await (await down.submit(envelopes(start, 500), wait=False))  # acknowledged = fsync'd
    assert down.metrics.spooled.labels("test")._value.get() == 3000
    await down.stop()

    up = await make_sink(test_settings, spool_dir)
    try:
        more = await up.submit(envelopes(3000, 100))  # must queue behind the spooled ones
        await more
        records = await read_raw(test_settings, 3100)
        seqs = [int(r["message"].split("=")[1]) for r in records]
        assert seqs == list(range(3100))  # one key -> one partition: total order, no duplicate
        assert not up.spooling and up.spool.is_empty()
    finally:
        await up.stop()


async def test_collector_killed_with_spooled_records_delivers_them_after_restart(test_settings, tmp_path: Path) -> None:
    spool_dir = tmp_path / "spool"
    down = await make_sink(test_settings, spool_dir, dead_kafka=True)
    acked = []
    for start in range(0, 400, 100):
        await (await down.submit(envelopes(start, 100), wait=False))
        acked += range(start, start + 100)
    # Abrupt end: no stop(), the background tasks are cancelled as a crash would end them.
    for task in down._tasks:
        task.cancel()
    await asyncio.gather(*down._tasks, return_exceptions=True)

    up = await make_sink(test_settings, spool_dir)
    try:
        records = await read_raw(test_settings, len(acked))
        assert [int(r["message"].split("=")[1]) for r in records] == acked
    finally:
        await up.stop()


async def test_full_spool_pushes_back_instead_of_dropping(test_settings, tmp_path: Path) -> None:
    sink = await make_sink(
        test_settings, tmp_path / "spool", dead_kafka=True, max_bytes=1024 * 1024, segment_bytes=64 * 1024
    )
    try:
        big = [RawEnvelope(source_id="s", agency="a", collector="t", format="f", message="x" * 4000) for _ in range(50)]
        with pytest.raises(Overloaded):
            for _ in range(10):
                await (await sink.submit(big, wait=False))
        # A waiting submitter (TCP) blocks instead of failing.
        blocked = asyncio.create_task(sink.submit(big, wait=True))
        await asyncio.sleep(0.3)
        assert not blocked.done()
        blocked.cancel()
    finally:
        await sink.stop()
