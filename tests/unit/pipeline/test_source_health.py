"""Source health with a controlled clock: rates, error rate, silence and recovery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from canhgac.core.config import SourceConfig
from canhgac.pipeline.source_health import SILENT_RULE_ID, SourceHealthTracker

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def tracker() -> SourceHealthTracker:
    return SourceHealthTracker([SourceConfig(id="fw-1", agency="stttt", expected_interval_secs=300)], T0)


def test_rates_and_error_rate_over_the_last_minute() -> None:
    t = tracker()
    for i in range(120):
        t.observe("fw-1", "stttt", T0 + timedelta(seconds=i // 2), is_error=(i % 10 == 0))
    snap = t.stats["fw-1"].snapshot(T0 + timedelta(seconds=59))
    assert snap["events_per_sec"] == 2.0
    assert snap["parse_error_rate"] == 0.1
    assert snap["events_total"] == 120 and snap["parse_errors_total"] == 12
    later = t.stats["fw-1"].snapshot(T0 + timedelta(seconds=200))
    assert later["events_per_sec"] == 0.0 and later["events_total"] == 120


def test_silent_source_raises_one_alert_then_clears_when_it_resumes() -> None:
    t = tracker()
    t.observe("fw-1", "stttt", T0, is_error=False)
    assert t.check_silence(T0 + timedelta(seconds=299)) == []
    (alert,) = t.check_silence(T0 + timedelta(seconds=301))
    assert alert["rule"]["id"] == SILENT_RULE_ID and alert["agency"] == "stttt" and alert["count"] == 1
    assert t.check_silence(T0 + timedelta(seconds=900)) == []  # one alert per silence
    assert t.stats["fw-1"].snapshot(T0 + timedelta(seconds=900))["silent"] is True
    (cleared,) = t.observe("fw-1", "stttt", T0 + timedelta(seconds=1000), is_error=False)
    assert cleared["id"] == alert["id"] and cleared["count"] == 2 and cleared["cleared_at"]
    assert t.stats["fw-1"].snapshot(T0 + timedelta(seconds=1000))["silent"] is False
    # A second silence is a new alert.
    (again,) = t.check_silence(T0 + timedelta(seconds=1400))
    assert again["id"] != alert["id"]


def test_source_that_never_sent_is_silent_after_its_interval_from_start() -> None:
    t = tracker()
    assert len(t.check_silence(T0 + timedelta(seconds=301))) == 1


def test_undeclared_sources_are_tracked_but_never_silent() -> None:
    t = tracker()
    t.observe("syslog-default", None, T0, is_error=False)
    alerts = t.check_silence(T0 + timedelta(days=1))
    assert [a["canhgac"]["source_id"] for a in alerts] == ["fw-1"]
