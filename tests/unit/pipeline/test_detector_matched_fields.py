"""A rule alert carries the fields that made its rule fire on its first event (`matched_fields`),
so the console can highlight them; the detector path with Kafka replaced by a list."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import orjson
from canhgac.core.alert import Alert
from canhgac.core.config import Settings
from canhgac.core.metrics import Metrics
from canhgac.pipeline.detector import DetectorStage

SSH_FAILED = "06888d57-bcd1-55d5-82b9-261400ea7dfe"  # bundled: keywords 'Failed password for'


async def test_rule_alert_names_the_fields_that_fired() -> None:
    s = Settings()
    stage = DetectorStage(s.kafka, s.pipeline, s.rules, Metrics())
    stage.reload_if_changed()
    produced: list[dict] = []

    async def produce(topic: str, items) -> None:  # type: ignore[no-untyped-def]
        if topic == stage.kafka.topics.alerts:
            produced.extend(orjson.loads(v) for _k, v in items)

    stage.produce = produce  # type: ignore[method-assign]
    stage._send_watermarks = lambda newest: _nothing()  # type: ignore[method-assign,assignment]
    doc = {
        "@timestamp": datetime.now(UTC).isoformat(),
        "message": "Failed password for root from 203.0.113.66 port 4100 ssh2",
        "event": {"id": "e1"},
        "host": {"name": "web01"},
        "source": {"ip": "203.0.113.66"},
        "canhgac": {"agency": "so-tttt", "logsource": {"product": "linux", "service": "sshd"}},
    }
    await stage.process([SimpleNamespace(key=None, value=orjson.dumps(doc), partition=0, offset=0)])  # type: ignore[list-item]
    alert = next(Alert.model_validate(a) for a in produced if a["rule"]["id"] == SSH_FAILED)
    assert alert.matched_fields == ["message"]
    # and the condition that held on it, shown next to the highlighted field
    assert [c.model_dump() for c in alert.matched_conditions] == [
        {"field": "message", "condition": 'keyword: "Failed password for"'}
    ]


async def _nothing() -> None:
    return None
