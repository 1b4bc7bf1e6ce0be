"""Routing correlation matches by rule family and shared group values (rules/correlation_routing.py):
matches that can share a window get one key; each route counts only its own feeds; and the
bundled correlation packs evaluated over two partitions (engines) raise exactly the alerts one
engine raises over the whole stream."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from canhgac.core.config import Settings
from canhgac.core.metrics import Metrics
from canhgac.pipeline.detector import DetectorStage
from canhgac.rules.correlation import CorrelationEngine
from canhgac.rules.model import RuleMeta

BURST = "id:5eec81e0-0ed6-4696-be74-669e79bfe50f"  # failures by user.name + source.ip (inner)
THEN_SUCCESS = "id:1450ceda-5853-415d-a7e3-0792418178b6"  # burst then success, by user.name (outer)
FROM_ADDRESS = "id:cb77d93d-ea7a-4cae-8928-ed00f5f1f8a6"  # failures by source.ip
T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def detector() -> DetectorStage:
    s = Settings()
    stage = DetectorStage(s.kafka, s.pipeline, s.rules, Metrics())
    stage.reload_if_changed()
    return stage


def ssh(i: int, outcome: str, user: str, address: str, agency: str = "so-tttt") -> dict[str, Any]:
    return {
        "@timestamp": (T0 + timedelta(seconds=i)).isoformat(),
        "event": {"id": f"e{i}", "category": ["authentication"], "outcome": outcome},
        "source": {"ip": address},
        "user": {"name": user},
        "canhgac": {"agency": agency, "logsource": {"product": "linux", "service": "sshd"}},
    }


def matched(detector: DetectorStage, event: dict[str, Any]) -> list[RuleMeta]:
    assert detector.engine is not None
    return detector.engine.match(event)


def route_for(detector: DetectorStage, event: dict[str, Any], feed_rule: str) -> str:
    routes = detector.correlation.routes(event, matched(detector, event))
    [key] = [r.key for r in routes if any(rule == feed_rule for rule, _pos in r.feeds)]
    return key


def test_a_nested_family_routes_by_the_field_its_rules_share(detector: DetectorStage) -> None:
    failure = ssh(0, "failure", "canbo01", "203.0.113.7")
    success = ssh(1, "success", "canbo01", "198.51.100.9")  # another address: same user, same window
    assert route_for(detector, failure, BURST) == route_for(detector, success, THEN_SUCCESS)
    other_user = ssh(2, "failure", "canbo02", "203.0.113.7")
    assert route_for(detector, other_user, BURST) != route_for(detector, failure, BURST)


def test_the_agency_is_part_of_the_key(detector: DetectorStage) -> None:
    a = ssh(0, "failure", "canbo01", "203.0.113.7", agency="so-tttt")
    b = ssh(0, "failure", "canbo01", "203.0.113.7", agency="so-yte")
    assert route_for(detector, a, FROM_ADDRESS) != route_for(detector, b, FROM_ADDRESS)


def test_each_route_counts_only_its_own_feeds(detector: DetectorStage) -> None:
    event = ssh(0, "failure", "canbo01", "203.0.113.7")
    rules = matched(detector, event)
    routes = detector.correlation.routes(event, rules)
    assert len(routes) >= 2  # by address, and the burst family by user
    for route in routes:
        engine = detector_engine(detector)
        engine.observe(event, rules, T0, 0, feeds=route.feeds)
        assert engine.stats().matches == len(route.feeds)


def detector_engine(detector: DetectorStage) -> CorrelationEngine:
    assert detector.load_result is not None
    return CorrelationEngine.from_sigma(detector.load_result.correlation_rules)


def stream() -> list[dict[str, Any]]:
    """Bursts from several addresses on several users in two agencies, some followed by success."""
    events, i = [], 0
    for round_ in range(3):
        for user, address, agency in (
            ("canbo01", "203.0.113.7", "so-tttt"),
            ("canbo01", "203.0.113.8", "so-tttt"),
            ("canbo02", "203.0.113.7", "so-yte"),
            ("canbo03", "198.51.100.1", "so-tttt"),
        ):
            for _ in range(6 + round_):
                events.append(ssh(i, "failure", user, address, agency))
                i += 7
            if user != "canbo03":
                events.append(ssh(i, "success", user, "192.0.2.50", agency))
                i += 7
    return events


def test_two_partitions_raise_exactly_what_one_engine_raises(detector: DetectorStage) -> None:
    whole = detector_engine(detector)
    parts = [detector_engine(detector), detector_engine(detector)]
    one: dict[str, dict[str, Any]] = {}
    split: dict[str, dict[str, Any]] = {}
    firsts: list[str] = []
    for event in stream():
        rules = matched(detector, event)
        ts = datetime.fromisoformat(event["@timestamp"])
        for alert in whole.observe(event, rules, ts, 0):
            one[alert.id] = alert.to_dict()
        for route in detector.correlation.routes(event, rules):
            part = parts[zlib.crc32(route.key.encode()) % 2]
            for alert in part.observe(event, rules, ts, 0, feeds=route.feeds):
                split[alert.id] = alert.to_dict()
                if not alert.is_update:
                    firsts.append(alert.id)
        for part in parts:  # the detector's watermark broadcast
            part.note_time(0, ts)
    end = T0 + timedelta(hours=2)
    for alert in whole.advance(end):
        one[alert.id] = alert.to_dict()
    for part in parts:
        for alert in part.advance(end):
            split[alert.id] = alert.to_dict()
    assert one, "the stream raises correlation alerts"
    assert orjson.dumps(split, option=orjson.OPT_SORT_KEYS) == orjson.dumps(one, option=orjson.OPT_SORT_KEYS)
    assert len(firsts) == len(set(firsts)), "an alert was first raised twice"
    assert {p for p in (zlib.crc32(r.encode()) % 2 for r in keys_of_stream(detector))} == {0, 1}


def keys_of_stream(detector: DetectorStage) -> set[str]:
    return {r.key for e in stream() for r in detector.correlation.routes(e, matched(detector, e))}
