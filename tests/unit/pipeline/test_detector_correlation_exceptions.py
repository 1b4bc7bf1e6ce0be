"""An exception on a correlation rule's id suppresses that correlation's alerts, counted; the
detector and correlator path from consumed records to produced alerts, with Kafka replaced by lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
from canhgac.core.config import Settings
from canhgac.core.metrics import Metrics
from canhgac.pipeline.correlator import CorrelatorStage, PartitionState
from canhgac.pipeline.detector import DetectorStage
from canhgac.rules.ruleset import rule_config_from_docs

BRUTEFORCE_FROM_ADDRESS = "cb77d93d-ea7a-4cae-8928-ed00f5f1f8a6"  # event_count gte 20 by source.ip, 5m


def failures(address: str, count: int, t0: datetime) -> list[SimpleNamespace]:
    records = []
    for i in range(count):
        event = {
            "@timestamp": (t0 + timedelta(seconds=i)).isoformat(),
            "event": {"id": f"{address}-{i}", "category": ["authentication"], "outcome": "failure"},
            "message": f"Failed password for root from {address} port {41000 + i} ssh2",
            "source": {"ip": address},
            "canhgac": {"agency": "so-tttt", "logsource": {"product": "linux", "service": "sshd"}},
        }
        records.append(SimpleNamespace(key=None, value=orjson.dumps(event), partition=0))
    return records


async def run(stage: DetectorStage, records: list[SimpleNamespace]) -> list[dict[str, Any]]:
    """Detector, then the correlator over what the detector routed to it (one partition)."""
    produced: list[dict[str, Any]] = []
    routed: list[SimpleNamespace] = []

    async def produce(topic: str, items: list[tuple[bytes | None, bytes]]) -> None:
        if topic == stage.kafka.topics.alerts:
            produced.extend(orjson.loads(value) for _key, value in items)
        if topic == stage.kafka.topics.correlation:
            for key, value in items:  # offsets go on across runs, as in the partition
                stage.routed_offset = getattr(stage, "routed_offset", -1) + 1  # type: ignore[attr-defined]
                routed.append(SimpleNamespace(key=key, value=value, partition=0, offset=stage.routed_offset))  # type: ignore[attr-defined]

    async def no_changelog(partition: int, state: PartitionState) -> None:
        return None

    async def no_watermarks(newest: dict[int, datetime]) -> None:
        return None

    stage.produce = produce  # type: ignore[method-assign]
    stage._send_watermarks = no_watermarks  # type: ignore[method-assign]
    await stage.process(records)  # type: ignore[arg-type]
    correlator = stage.correlator
    correlator.config = stage.config
    correlator.reload_if_changed()
    correlator.produce = produce  # type: ignore[method-assign]
    correlator._write_changelog = no_changelog  # type: ignore[method-assign]
    correlator.owned.setdefault(0, PartitionState(correlator.new_engine(), 0))
    await correlator.process(routed)  # type: ignore[arg-type]
    return produced


def suppressed(metrics: Metrics) -> float:
    return metrics.alerts_suppressed.labels("exception")._value.get()


async def test_exception_on_a_correlation_rule_suppresses_its_alert_and_counts_it(tmp_path: Path) -> None:
    s = Settings()
    metrics = Metrics()
    stage = DetectorStage(s.kafka, s.pipeline, s.rules, metrics, data_dir=tmp_path)
    stage.correlator = CorrelatorStage(s.kafka, s.pipeline, s.rules, metrics, data_dir=tmp_path)  # type: ignore[attr-defined]
    stage.config = rule_config_from_docs(
        [],
        [
            {
                "id": "scanner",
                "rule_id": BRUTEFORCE_FROM_ADDRESS,
                "conditions": [{"field": "source.ip", "op": "cidr", "value": "203.0.113.0/24"}],
            }
        ],
    )
    stage.reload_if_changed()
    t0 = datetime.now(UTC) - timedelta(minutes=1)

    covered = await run(stage, failures("203.0.113.50", 20, t0))
    assert not [a for a in covered if a.get("correlation")]
    assert suppressed(metrics) == 1

    other = await run(stage, failures("198.51.100.7", 20, t0))
    [alert] = [a for a in other if a.get("correlation")]
    assert alert["rule"]["id"] == BRUTEFORCE_FROM_ADDRESS
    assert alert["canhgac"]["group"] == {"source.ip": "198.51.100.7"}
    assert suppressed(metrics) == 1
