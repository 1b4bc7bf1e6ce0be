"""Source health judges a silence only on partitions it has read to the end.

Found by the chaos test: a source-health replica restarted (or whose stage crashed and restarted
while an OpenSearch node was down) owned a source's events partition but had not read its backlog
for 90 s; it raised "source silent" for a source that was sending all along. Events not yet read
are not silence: a replica behind on a partition says nothing about its sources until it caught up.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiokafka import TopicPartition
from aiokafka.partitioner import murmur2
from canhgac.core.config import KafkaConfig, OpenSearchConfig, PipelineConfig, SourceConfig
from canhgac.core.errors import BackendUnavailable
from canhgac.core.metrics import Metrics
from canhgac.pipeline.source_health import SILENT_RULE_ID, SourceHealthStage

PARTITIONS = 4


class FakeConsumer:
    """The consumer calls source health makes: partitions, assignment, high watermark, position."""

    def __init__(self, topic: str, highwater: dict[int, int | None], position: dict[int, int]) -> None:
        self.topic = topic
        self._highwater = highwater
        self._position = position

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(PARTITIONS))

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(self.topic, p) for p in self._position}

    def highwater(self, tp: TopicPartition) -> int | None:
        return self._highwater.get(tp.partition)

    async def position(self, tp: TopicPartition) -> int:
        return self._position[tp.partition]


def stage_owning_everything() -> tuple[SourceHealthStage, int]:
    sources = [SourceConfig(id="srv-a", agency="so-tttt", expected_interval_secs=90)]
    stage = SourceHealthStage(KafkaConfig(), OpenSearchConfig(), PipelineConfig(), Metrics(), sources)
    stage.owned_partitions = set(range(PARTITIONS))
    partition = (murmur2(b"srv-a") & 0x7FFFFFFF) % PARTITIONS
    return stage, partition


async def test_no_silence_while_the_sources_partition_has_unread_events() -> None:
    stage, partition = stage_owning_everything()
    later = datetime.now(UTC) + timedelta(seconds=300)  # long past srv-a's 90 s
    topic = stage.kafka.topics.events
    everything = dict.fromkeys(range(PARTITIONS), 10)
    behind = FakeConsumer(topic, everything, {**everything, partition: 4})  # 6 events not read yet
    stage.consumer = behind  # type: ignore[assignment]
    assert await stage.silence_alerts(later) == []
    unfetched = FakeConsumer(topic, {**everything, partition: None}, everything)  # nothing fetched yet
    stage.consumer = unfetched  # type: ignore[assignment]
    assert await stage.silence_alerts(later) == []
    # Read to the end and still nothing from srv-a for longer than its interval: silent.
    stage.consumer = FakeConsumer(topic, everything, everything)  # type: ignore[assignment]
    (alert,) = await stage.silence_alerts(later)
    assert alert["rule"]["id"] == SILENT_RULE_ID and alert["canhgac"]["group"] == {"canhgac.source_id": "srv-a"}


class FlakyKafka:
    """`produce` refusing its first call (a broker down), then acknowledging."""

    def __init__(self) -> None:
        self.calls = 0
        self.produced: list[dict[str, Any]] = []

    async def produce(self, topic: str, items: list[tuple[bytes | None, bytes]]) -> None:
        self.calls += 1
        if self.calls == 1:
            raise BackendUnavailable("Kafka produce failed: broker down")
        self.produced += [orjson.loads(value) for _, value in items]


class NoErrorsBulk:
    async def bulk(self, body: bytes, refresh: str) -> dict[str, object]:
        lines = body.count(b"\n") // 2  # an action line and a document per snapshot
        return {"errors": False, "items": [{"index": {"status": 200}}] * lines}


async def test_a_silence_whose_alert_could_not_be_produced_is_sent_with_the_next_publish() -> None:
    """Found by the chaos test (no "source silent" alert for the quiet source): the tracker marked
    the silence as alerted, the produce failed during a broker kill, and the stage's retry on the
    same tracker never raised it again."""
    stage, _ = stage_owning_everything()
    topic = stage.kafka.topics.events
    stage.consumer = FakeConsumer(topic, dict.fromkeys(range(PARTITIONS), 10), dict.fromkeys(range(PARTITIONS), 10))  # type: ignore[assignment]
    stage.tracker.started_at -= timedelta(seconds=300)  # srv-a silent for long past its 90 s
    stage.tracker.stats["srv-a"].watched_since = stage.tracker.started_at
    kafka = FlakyKafka()
    stage.produce = kafka.produce  # type: ignore[method-assign]
    stage.client = NoErrorsBulk()  # type: ignore[assignment]
    with pytest.raises(BackendUnavailable):
        await stage._publish([])
    await stage._publish([])  # the stage retried: the same tracker, the silence already marked
    (alert,) = kafka.produced
    assert alert["rule"]["id"] == SILENT_RULE_ID and alert["canhgac"]["group"] == {"canhgac.source_id": "srv-a"}
    await stage._publish([])
    assert len(kafka.produced) == 1, "an alert Kafka acknowledged is not sent again"
