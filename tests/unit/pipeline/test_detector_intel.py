"""The detector looks every event up in the indicator matcher: an indicator met raises an alert that
carries it (feed, confidence, where it was seen), hits of one indicator group as a rule's matches
do, an agency's indicator never alerts on another agency's events, and an expired one never alerts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from canhgac.core.alert import Alert, Severity
from canhgac.core.config import Settings
from canhgac.core.metrics import Metrics
from canhgac.pipeline.detector import DetectorStage
from canhgac.rules.intel.indicators import Indicator, IndicatorType
from canhgac.rules.intel.matcher import IndicatorMatcher


@dataclass
class Record:
    value: bytes
    key: bytes | None = None
    partition: int = 0
    offset: int = 0


def event(event_id: str, agency: str, ip: str, ts: datetime, host: str = "web01") -> Record:
    doc = {
        "@timestamp": ts.isoformat(),
        "message": "connection",
        "event": {"id": event_id},
        "host": {"name": host},
        "destination": {"ip": ip},
        "canhgac": {"agency": agency, "logsource": {"product": "linux"}},
    }
    return Record(orjson.dumps(doc))


async def run(stage: DetectorStage, records: list[Record]) -> list[dict]:
    produced: list[dict] = []

    async def produce(topic: str, items) -> None:  # type: ignore[no-untyped-def]
        if topic == stage.kafka.topics.alerts:
            produced.extend(orjson.loads(v) for _k, v in items)

    stage.produce = produce  # type: ignore[method-assign]
    await stage.process(records)  # type: ignore[arg-type]
    return produced


async def test_indicator_alerts_grouped_tenanted_and_expiring() -> None:
    s = Settings()
    stage = DetectorStage(s.kafka, s.pipeline, s.rules, Metrics())
    stage.reload_if_changed()
    now = datetime.now(UTC)  # one time for every event: two clock reads could straddle an alert window
    past = (now - timedelta(minutes=1)).timestamp()
    stage.intel = IndicatorMatcher(
        [
            Indicator("i1", IndicatorType.CIDR, "203.0.113.0/24", "bulletin-42", None, 80, Severity.CRITICAL, ("c2",)),
            Indicator("i2", IndicatorType.IPV4, "198.51.100.7", "so-b-list", "so-b", 50),
            Indicator("i3", IndicatorType.IPV4, "192.0.2.9", "old", None, expires_at=past),
        ]
    )
    alerts = await run(
        stage,
        [
            event("e1", "so-a", "203.0.113.5", now),
            event("e2", "so-a", "203.0.113.77", now),  # same indicator, host, window: same alert
            event("e3", "so-a", "198.51.100.7", now),  # so-b's indicator: not for so-a
            event("e4", "so-b", "198.51.100.7", now),
            event("e5", "so-a", "192.0.2.9", now),  # expired
        ],
    )
    by_indicator = {a["indicator"]["id"]: Alert.model_validate(a) for a in alerts}
    assert set(by_indicator) == {"i1", "i2"}
    first = by_indicator["i1"]
    assert first.count == 2 and first.event_ids == ["e1", "e2"] and first.agency == "so-a"
    assert first.severity is Severity.CRITICAL and first.rule.id == "intel:i1" and "c2" in first.rule.tags
    assert first.indicator is not None
    assert (first.indicator.feed, first.indicator.confidence, first.indicator.field) == (
        "bulletin-42",
        80,
        "destination.ip",
    )
    assert first.indicator.observed == "203.0.113.5" and first.indicator.value == "203.0.113.0/24"
    assert by_indicator["i2"].agency == "so-b" and by_indicator["i2"].event_ids == ["e4"]
