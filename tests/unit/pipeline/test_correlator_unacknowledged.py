"""A correlation alert Kafka refused (a broker down) is sent again, not lost: the correlator counts a
record as soon as it reads it, and the stage loop retries a failed batch on the same stage, which
skips the records already counted. Kafka is replaced by a fake that refuses when told to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from canhgac.core.config import RulesConfig, Settings
from canhgac.core.errors import BackendUnavailable
from canhgac.core.metrics import Metrics
from canhgac.pipeline.correlator import CorrelatorStage, PartitionState
from canhgac.pipeline.detector import correlation_inputs

CORRELATION_ID = "22222222-2222-4222-8222-222222222222"
RULES = """title: Login failed
id: 11111111-1111-4111-8111-111111111111
name: login_failed
status: test
logsource:
    product: test
detection:
    sel:
        event.outcome: failure
    condition: sel
---
title: Failed logins from one address
id: 22222222-2222-4222-8222-222222222222
correlation:
    type: event_count
    rules:
        - login_failed
    group-by:
        - source.ip
    timespan: 1m
    condition:
        {condition}
"""


class FlakyKafka:
    """The correlator's Kafka writes: alerts produced, checkpoints written; `refuse` alert produces
    fail first (BackendUnavailable, as `Stage.produce` raises it)."""

    def __init__(self, stage: CorrelatorStage) -> None:
        self.stage = stage
        self.refuse = 0
        self.alerts: list[dict[str, Any]] = []
        self.checkpoints: list[tuple[int, int]] = []  # (partition, input offset it covers)

    async def produce(self, topic: str, items: list[tuple[bytes | None, bytes]]) -> None:
        if topic == self.stage.kafka.topics.alerts:
            if self.refuse:
                self.refuse -= 1
                raise BackendUnavailable(f"Kafka produce to {topic} failed: broker down")
            self.alerts += [orjson.loads(value) for _, value in items]

    async def write_changelog(self, partition: int, state: PartitionState) -> None:
        self.checkpoints.append((partition, state.next_offset))


def correlator(tmp_path: Path, condition: str) -> tuple[CorrelatorStage, FlakyKafka]:
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(RULES.format(condition=condition), encoding="utf-8")
    rules = RulesConfig(paths=(str(rules_file),), include_bundled_packs=False, correlation_allowed_lateness_secs=0)
    s = Settings()
    stage = CorrelatorStage(s.kafka, s.pipeline, rules, Metrics(), data_dir=tmp_path)
    stage.reload_if_changed()
    stage.owned[0] = PartitionState(stage.new_engine(), 0)
    kafka = FlakyKafka(stage)
    stage.produce = kafka.produce  # type: ignore[method-assign]
    stage._write_changelog = kafka.write_changelog  # type: ignore[method-assign]
    return stage, kafka


def routed(stage: CorrelatorStage, times: list[datetime]) -> list[SimpleNamespace]:
    """The detector's correlation input for one failed login from 203.0.113.9 at each time."""
    assert stage.engine is not None
    values = []
    for i, ts in enumerate(times):
        event = {
            "@timestamp": ts.isoformat(),
            "event": {"id": f"login-{i}", "outcome": "failure"},
            "source": {"ip": "203.0.113.9"},
            "canhgac": {"agency": "so-tttt", "logsource": {"product": "test"}},
        }
        matched = stage.engine.match(event)
        values += [v for _, v in correlation_inputs(stage.correlation.routes(event, matched), event, matched, ts, 0)]
    return [SimpleNamespace(key=None, value=v, partition=0, offset=i) for i, v in enumerate(values)]


async def test_an_alert_whose_produce_failed_is_sent_when_the_batch_is_retried(tmp_path: Path) -> None:
    stage, kafka = correlator(tmp_path, "gte: 2")
    t0 = datetime.now(UTC) - timedelta(seconds=30)
    records = routed(stage, [t0, t0 + timedelta(seconds=1)])
    kafka.refuse = 1
    with pytest.raises(BackendUnavailable):
        await stage.process(records)  # type: ignore[arg-type]
    await stage.process(records)  # type: ignore[arg-type]  # the stage loop's retry: records already counted
    (alert,) = kafka.alerts
    assert alert["rule"]["id"] == CORRELATION_ID and alert["count"] == 2
    assert kafka.checkpoints == [(0, 2)], "the checkpoint follows the alert it produced, never before"
    await stage.process(records)  # type: ignore[arg-type]
    assert len(kafka.alerts) == 1, "an alert Kafka acknowledged is not sent again"


async def test_a_window_closed_while_idle_whose_alert_failed_is_sent_with_the_next_round(tmp_path: Path) -> None:
    stage, kafka = correlator(tmp_path, "lt: 5")  # fires when its window closes
    stage.producer = object()  # type: ignore[assignment]  # on_idle runs only on a started stage
    now = datetime.now(UTC)
    records = routed(stage, [now - timedelta(minutes=10)])
    watermark = orjson.dumps({"watermark": {"0": now.isoformat()}})
    records.append(SimpleNamespace(key=None, value=watermark, partition=0, offset=1))
    await stage.process(records)  # type: ignore[arg-type]
    assert kafka.alerts == []
    kafka.refuse = 1
    await stage.on_idle()  # the window closes; Kafka refuses its alert (logged, postponed)
    assert kafka.alerts == []
    stage._next_advance = 0.0
    await stage.on_idle()
    (alert,) = kafka.alerts
    assert alert["rule"]["id"] == CORRELATION_ID and alert["count"] == 1
    assert kafka.checkpoints[-1] == (0, 2)
