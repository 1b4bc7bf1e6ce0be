"""Consumer lag per stage and partition: what a stage has not consumed yet, falling to 0 as it
catches up (real Kafka)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from aiokafka import ConsumerRecord
from canhgac.core.metrics import Metrics
from canhgac.pipeline.stage import Stage

from canhgac.demo_feed import send_lines
from canhgac.runtime import Runtime
from tests.conftest import eventually

pytestmark = pytest.mark.integration


class LagProbe(Stage):
    """Consumes the events topic (as the indexer's principal and group) and notes, at each batch,
    the lag reported after the batch before."""

    name = "indexer"

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.seen: list[dict[str, float]] = []
        self.consumed = 0

    def topics(self) -> list[str]:
        return [self.kafka.topics.events]

    def lag(self) -> dict[str, float]:
        return {
            s.labels["partition"]: s.value
            for m in self.metrics.registry.collect()
            if m.name == "canhgac_consumer_lag_records"
            for s in m.samples
            if s.labels["stage"] == self.name and s.labels["topic"] == self.kafka.topics.events
        }

    async def process(self, records: Sequence[ConsumerRecord]) -> None:
        self.seen.append(self.lag())
        self.consumed += len(records)


async def test_lag_is_reported_per_partition_and_falls_to_zero(test_settings) -> None:  # type: ignore[no-untyped-def]
    n = 400
    feeder = Runtime(test_settings, stages=("normalizer",), api=False)
    feeder_task = asyncio.create_task(feeder.run())
    await asyncio.wait_for(feeder.started.wait(), 120)
    try:
        assert feeder.collector is not None and feeder.collector.port
        lines = [f"<14>Nov 26 09:00:00 lag-host{i % 4} app[{i}]: lag-test record {i}" for i in range(n)]
        await send_lines("127.0.0.1", feeder.collector.port, lines)
        await eventually(lambda: _produced(feeder.metrics, test_settings.kafka.topics.events, n), timeout_secs=60)
    finally:
        feeder.request_stop()
        await asyncio.wait_for(feeder_task, 60)

    stage_cfg = test_settings.pipeline.indexer.model_copy(update={"max_batch_records": 25})
    probe = LagProbe(test_settings.kafka, stage_cfg, Metrics())
    stop = asyncio.Event()
    task = asyncio.create_task(probe.run(stop))
    try:

        async def caught_up() -> bool:
            return probe.consumed >= n and sum(probe.lag().values()) == 0

        await eventually(caught_up, timeout_secs=60)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    # Every event waited in Kafka when the probe started: once a partition was first reported, its
    # lag was most of what the partition held, and it only went down from there, to 0.
    partitions = {p for report in probe.seen for p in report}
    assert partitions and partitions <= {"0", "1"}  # test topics have two partitions
    for partition in partitions:
        series = [report[partition] for report in probe.seen if partition in report]
        assert series == sorted(series, reverse=True), series
    assert sum(max(r.get(p, 0) for r in probe.seen) for p in partitions) >= n // 2
    assert probe.lag() == {p: 0 for p in partitions}


async def _produced(metrics: Metrics, topic: str, n: int) -> bool:
    return metrics.produced.labels("normalizer", topic)._value.get() >= n
