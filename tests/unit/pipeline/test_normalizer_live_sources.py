"""Issue 12: the normaliser uses the source's declaration as it is now. A disabled source's records
(accepted before the collectors saw the switch, or by a collector elsewhere) are dead-lettered with
reason `source_disabled`, never indexed; the declared time zone may be a fixed offset."""

from __future__ import annotations

from typing import Any

import orjson
from canhgac.core.config import CollectorsConfig, KafkaConfig, SourceConfig, StageConfig
from canhgac.core.envelope import RawEnvelope
from canhgac.core.metrics import Metrics
from canhgac.pipeline.normalizer import NormalizerStage

from tests.unit.pipeline.test_normalizer_agency import record

LINE = '{"@timestamp": "2026-12-05 09:00:00", "message": "hello"}'


async def run(stage: NormalizerStage, *envelopes: RawEnvelope) -> dict[str, list[dict[str, Any]]]:
    produced: dict[str, list[dict[str, Any]]] = {"events": [], "dlq": []}

    async def capture(topic: str, items: Any) -> None:
        name = "events" if topic == stage.kafka.topics.events else "dlq"
        produced[name].extend(orjson.loads(value) for _, value in items)

    stage.produce = capture  # type: ignore[method-assign]
    await stage.process([record(e, i) for i, e in enumerate(envelopes)])
    return produced


def envelope(source_id: str) -> RawEnvelope:
    return RawEnvelope(source_id=source_id, agency="x", collector="syslog-tcp", format="json", message=LINE)


async def test_a_disabled_sources_records_are_dead_lettered_with_the_reason() -> None:
    sources = [
        SourceConfig(id="on", agency="so-yte", timezone="+07:00"),
        SourceConfig(id="off", agency="so-yte", enabled=False),
    ]
    metrics = Metrics()
    stage = NormalizerStage(KafkaConfig(), StageConfig(), metrics, sources, collectors=CollectorsConfig())
    out = await run(stage, envelope("on"), envelope("off"))
    (event,) = out["events"]
    assert event["canhgac"]["source_id"] == "on" and event["@timestamp"] == "2026-12-05T02:00:00.000Z"
    (letter,) = out["dlq"]
    assert letter["reason"] == "source_disabled" and letter["record"]["source_id"] == "off"
    assert metrics.dlq.labels("normalizer", "source_disabled")._value.get() == 1
