"""The correlator checkpoints a partition's windows at most every
`rules.correlation_checkpoint_interval_secs` (and when idle, and before a handover), and never commits
input offsets past what its newest checkpoint covers.

Found by the province bench (bench/bench_province.py, 650 events/s for 10 minutes): writing every
partition's whole checkpoint after every batch took two thirds of the detector process's CPU once
the province's correlation windows filled, and the detector fell behind. Kafka is a fake here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import TopicPartition
from canhgac.core.errors import BackendUnavailable

from tests.unit.pipeline.test_correlator_unacknowledged import correlator, routed


class Commits:
    """The consumer's commit, as the stage loop calls it."""

    def __init__(self) -> None:
        self.offsets: list[int] = []

    async def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        self.offsets += [meta.offset for meta in offsets.values()]


async def test_checkpoints_follow_the_interval_and_commits_never_pass_them(tmp_path: Path) -> None:
    stage, kafka = correlator(tmp_path, "gte: 100")  # counts, never fires
    stage.rules_cfg = stage.rules_cfg.model_copy(update={"correlation_checkpoint_interval_secs": 3600.0})
    tp = TopicPartition(stage.kafka.topics.correlation, 0)
    consumer = Commits()
    t0 = datetime.now(UTC) - timedelta(seconds=30)
    records = routed(stage, [t0 + timedelta(seconds=i) for i in range(6)])

    await stage.process(records[:2])  # type: ignore[arg-type]
    await stage._commit(consumer, {tp: 2})  # type: ignore[arg-type]
    assert kafka.checkpoints == [(0, 2)], "a partition's first checkpoint is written at once"
    assert consumer.offsets == [2]

    await stage.process(records[2:4])  # type: ignore[arg-type]
    await stage._commit(consumer, {tp: 4})  # type: ignore[arg-type]
    assert kafka.checkpoints == [(0, 2)], "not again before the interval"
    assert max(consumer.offsets) == 2, "offsets 2 and 3 are counted but in no checkpoint: not committed"

    stage.producer, stage.consumer = object(), consumer  # type: ignore[assignment]
    await stage.on_idle()  # the input went quiet: checkpoint now, commit what it covers
    assert kafka.checkpoints[-1] == (0, 4) and consumer.offsets[-1] == 4

    await stage.process(records[4:])  # type: ignore[arg-type]
    await stage.checkpoint_before_handover({0})  # a rebalance takes the partition away
    assert kafka.checkpoints[-1] == (0, 6) and consumer.offsets[-1] == 6


async def test_a_partition_owing_alerts_is_handed_over_without_a_checkpoint(tmp_path: Path) -> None:
    """Its records' alerts were never acknowledged: a checkpoint holding them would lose the alerts;
    the next owner counts them again from the last checkpoint and sends them."""
    stage, kafka = correlator(tmp_path, "gte: 2")
    stage.rules_cfg = stage.rules_cfg.model_copy(update={"correlation_checkpoint_interval_secs": 3600.0})
    stage.consumer = Commits()  # type: ignore[assignment]
    t0 = datetime.now(UTC) - timedelta(seconds=30)
    records = routed(stage, [t0, t0 + timedelta(seconds=1)])
    kafka.refuse = 1
    with pytest.raises(BackendUnavailable):
        await stage.process(records)  # type: ignore[arg-type]
    await stage.checkpoint_before_handover({0})
    assert kafka.checkpoints == [] and stage.consumer.offsets == []  # type: ignore[attr-defined]


async def test_a_partition_slow_to_encode_is_checkpointed_less_often(tmp_path: Path) -> None:
    """Checkpoints keep to about a tenth of the stage's time, whatever the configured interval."""
    stage, kafka = correlator(tmp_path, "gte: 100")
    stage.rules_cfg = stage.rules_cfg.model_copy(update={"correlation_checkpoint_interval_secs": 0.0})
    t0 = datetime.now(UTC) - timedelta(seconds=30)
    records = routed(stage, [t0 + timedelta(seconds=i) for i in range(4)])
    await stage.process(records[:2])  # type: ignore[arg-type]
    assert kafka.checkpoints == [(0, 2)]
    state = stage.owned[0]
    assert state is not None
    state.checkpoint_secs = 0.5  # its windows took half a second to encode
    await stage.process(records[2:3])  # type: ignore[arg-type]
    assert kafka.checkpoints == [(0, 2)], "not within 10 × 0.5 s of the last one"
    state.checkpointed_at -= 6.0
    await stage.process(records[3:])  # type: ignore[arg-type]
    assert kafka.checkpoints == [(0, 2), (0, 4)]
