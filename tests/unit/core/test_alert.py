"""The alert contract (core/alert.py): one vocabulary, one constructor, one shape for every alert."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from canhgac.core.alert import (
    SEVERITY_SCORES,
    SOC_AGENCY,
    TRANSITIONS,
    Alert,
    Resolution,
    Severity,
    Status,
    alert_id,
    can_transition,
    severity_of,
    severity_rank,
)
from canhgac.core.config import SourceConfig
from canhgac.pipeline.alerts import AlertGrouper, alert_from_correlation
from canhgac.pipeline.notify.internal import channel_failing_alert
from canhgac.pipeline.source_health import SourceHealthTracker
from canhgac.rules.model import RuleMeta

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
EVENT = {
    "@timestamp": "2026-11-26T03:00:00Z",
    "event": {"id": "E1"},
    "host": {"name": "web01"},
    "user": {"name": "root"},
    "source": {"ip": "203.0.113.9"},
    "canhgac": {"agency": "so-tttt", "source_id": "s1", "dataset": "linux.auth"},
}


def every_kind_of_alert() -> dict[str, dict]:
    rule = RuleMeta(id="r1", title="SSH failed", level="low", author="SOC", tags=("attack.t1110",))
    correlation = {
        "id": "corr-1",
        "agency": "so-tttt",
        "agencies": ["so-tttt"],
        "rule": {"id": "c1", "title": "chain", "level": "high", "author": "SOC", "tags": [], "references": []},
        "correlation": {"type": "temporal_ordered", "group": {"user.name": "root"}, "cross_agency": False},
        "first_seen": "2026-11-26T03:00:00+00:00",
        "last_seen": "2026-11-26T03:01:00+00:00",
        "count": 2,
        "event_count": 7,
        "event_ids": ["E1"],
    }
    tracker = SourceHealthTracker([SourceConfig(id="fw", agency="so-yte", expected_interval_secs=60)], NOW)
    (silent,) = tracker.check_silence(NOW.replace(hour=4))
    failing = channel_failing_alert(
        channel="mail",
        channel_type="email",
        failures=3,
        last_error="refused",
        failing_since=NOW,
        now=NOW,
        agency=SOC_AGENCY,
    )
    return {
        "rule": AlertGrouper().add(rule, EVENT),
        "correlation": alert_from_correlation(correlation, EVENT),
        "source_silent": silent,
        "notifier": failing,
    }


def test_every_alert_source_writes_the_same_fields() -> None:
    alerts = every_kind_of_alert()
    fields = {name: set(doc) for name, doc in alerts.items()}
    expected = {f.serialization_alias or name for name, f in Alert.model_fields.items()}
    assert all(found == expected for found in fields.values()), fields
    for doc in alerts.values():
        assert Alert.model_validate(doc).to_document() == doc  # the document is the model, exactly
        assert doc["status"] == Status.NEW and doc["resolution"] is None and doc["history"][0]["action"] == "created"
        assert doc["severity_score"] == SEVERITY_SCORES[Severity(doc["severity"])]
        assert doc["@timestamp"] == doc["first_seen"]


def test_each_alert_names_its_owner() -> None:
    alerts = every_kind_of_alert()
    assert [(a["agency"], a["agencies"]) for a in alerts.values()] == [
        ("so-tttt", ["so-tttt"]),
        ("so-tttt", ["so-tttt"]),
        ("so-yte", ["so-yte"]),
        (SOC_AGENCY, [SOC_AGENCY]),
    ]
    assert alerts["rule"]["canhgac"] == {"source_id": "s1", "dataset": "linux.auth", "group": {
        "host.name": "web01", "user.name": "root", "source.ip": "203.0.113.9"}}  # fmt: skip


def test_alert_id_holds_the_agency() -> None:
    group = {"host.name": "shared-web01"}
    assert alert_id("r1", "so-tttt", group, "0") != alert_id("r1", "so-yte", group, "0")
    assert alert_id("r1", "so-tttt", group, "0") == alert_id("r1", "so-tttt", dict(group), "0")


@pytest.mark.parametrize(
    ("level", "severity"),
    [("high", Severity.HIGH), ("CRITICAL", Severity.CRITICAL), ("weird", Severity.MEDIUM), (None, Severity.MEDIUM)],
)
def test_levels_become_severities(level: str | None, severity: Severity) -> None:
    assert severity_of(level) is severity


def test_severities_rank_and_score_in_order() -> None:
    order = list(Severity)
    assert [severity_rank(s) for s in order] == list(range(5))
    assert severity_rank("nonsense") == severity_rank(Severity.MEDIUM)
    assert [SEVERITY_SCORES[s] for s in order] == sorted(SEVERITY_SCORES.values())


def test_transitions_cover_every_status_and_closing_can_reopen() -> None:
    assert set(TRANSITIONS) == set(Status)
    assert all(status not in TRANSITIONS[status] for status in Status)
    assert can_transition("new", "closed") and can_transition("closed", "acknowledged")
    assert not can_transition("closed", "in_progress") and not can_transition("new", "nonsense")
    assert [r.value for r in Resolution] == ["true_positive", "false_positive", "benign"]
