"""The detector matches normalized events from their bytes (Engine.match_json): an event no rule
matches is never decoded, one that matched is decoded for its alert, and whatever the native
reader leaves to orjson — a value only the Python engine reads, invalid JSON, a non-object — gets
exactly what the dict path gives it: the Python engine's matches or a dead letter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from canhgac.core.config import RulesConfig, Settings
from canhgac.core.metrics import Metrics
from canhgac.pipeline import detector
from canhgac.pipeline.detector import DetectorStage
from canhgac.pipeline.dlq import DeadLetters
from canhgac.rules import native

ATTACK = {
    "message": "Failed password for scanner from 203.0.113.50 port 41000 ssh2",
    "source": {"ip": "203.0.113.50"},
    "host": {"name": "gw01"},
    "canhgac": {"agency": "so-a", "logsource": {"product": "linux", "service": "sshd"}},
}
QUIET = {
    **ATTACK,
    "message": "Accepted publickey for deploy from 10.0.0.5 port 50000 ssh2",
    "source": {"ip": "10.0.0.5"},
}
# a list where the rule reads `message`: the native reader hands it to the Python engine
LISTED = {**ATTACK, "message": [ATTACK["message"]]}


class CountingOrjson:
    """orjson as the detector module sees it, counting decodes."""

    def __init__(self) -> None:
        self.decoded: list[bytes] = []

    def loads(self, raw: bytes) -> Any:
        self.decoded.append(raw)
        return orjson.loads(raw)

    def __getattr__(self, name: str) -> Any:
        return getattr(orjson, name)


class Record:
    def __init__(self, value: bytes) -> None:
        self.value, self.key, self.partition, self.offset = value, None, 0, 0


async def test_only_matched_and_unreadable_events_are_decoded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert native.available(), "canhgac_native is not installed: run deploy/local/install.sh"
    s = Settings()
    metrics = Metrics()
    stage = DetectorStage(s.kafka, s.pipeline, RulesConfig(), metrics, data_dir=tmp_path)
    stage.reload_if_changed()
    assert stage.engine is not None and stage.engine.native
    expected = sorted(m.id for m in stage.engine.match(ATTACK))
    assert expected and not stage.engine.match(QUIET)
    assert sorted(m.id for m in stage.engine.match(LISTED)) == expected  # the Python engine reads lists
    assert stage.engine.match_json(orjson.dumps(LISTED)) is None

    counting = CountingOrjson()
    monkeypatch.setattr(detector, "orjson", counting)
    alerts: list[dict[str, Any]] = []
    dead: list[dict[str, Any]] = []

    async def produce(topic: str, items: Any) -> None:
        if topic == stage.kafka.topics.alerts:
            alerts.extend(orjson.loads(v) for _k, v in items)

    async def produce_dead_letters(letters: DeadLetters) -> None:
        dead.extend(orjson.loads(v) for _k, v in letters.items)

    async def send_watermarks(newest: Any) -> None:  # the correlator's clock: not this test's subject
        pass

    stage.produce = produce  # type: ignore[method-assign]
    stage._send_watermarks = send_watermarks  # type: ignore[method-assign]
    stage.produce_dead_letters = produce_dead_letters  # type: ignore[method-assign]
    quiet, attack, listed = orjson.dumps(QUIET), orjson.dumps(ATTACK), orjson.dumps(LISTED)
    bad, array = b'{"message": "cut', b'["not", "an", "object"]'
    await stage.process([Record(r) for r in (quiet, attack, listed, bad, array, quiet)])  # type: ignore[arg-type]

    assert counting.decoded == [attack, listed, bad, array]  # never the quiet events
    assert sorted({a["rule"]["id"] for a in alerts}) == expected
    assert sum(a["count"] for a in alerts) == 2 * len(expected)  # the attack and its listed twin
    assert [d["reason"] for d in dead] == ["bad_event", "bad_event"]
    reads = {
        read: metrics.registry.get_sample_value("canhgac_detector_events_read_total", {"read": read})
        for read in ("bytes", "decoded")
    }
    assert reads == {"bytes": 3, "decoded": 3}  # quiet, attack, quiet | listed, bad, array
