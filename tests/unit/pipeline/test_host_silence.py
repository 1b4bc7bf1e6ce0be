"""Working time and the host tracker's rules (pure: no clock, no network)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from canhgac.core.errors import ConfigError
from canhgac.core.host_silence import HostSilenceConfig, SourceHostSilence, WorkCalendar, WorkingHours, load_holidays
from canhgac.pipeline.host_silence import HostSilenceTracker

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
VN = Path(__file__).resolve().parents[3] / "deploy" / "holidays" / "vn.yml"


def at(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=HCM)


def test_working_time_skips_nights_weekends_and_holidays() -> None:
    calendar = WorkCalendar(WorkingHours(), frozenset({date(2026, 12, 14)}), "Asia/Ho_Chi_Minh")
    assert calendar.working_secs(at(11, 16, 50), at(13, 12)) == 40 * 60  # Friday 16:50 -> Sunday
    assert calendar.working_secs(at(11, 16, 50), at(14, 15)) == 40 * 60  # the Monday holiday too
    assert calendar.working_secs(at(11, 16, 50), at(15, 9)) == 130 * 60  # Tuesday 09:00
    assert not calendar.is_working(at(13, 10)) and calendar.is_working(at(15, 10))
    # The source's zone decides: 02:00 UTC is 09:00 in Hồ Chí Minh City.
    assert calendar.is_working(datetime(2026, 12, 15, 2, 0, tzinfo=ZoneInfo("UTC")))
    assert WorkCalendar(None, frozenset(), "UTC").working_secs(at(12, 0), at(13, 0)) == 86400


def test_vietnamese_holidays_file_and_bad_files(tmp_path: Path) -> None:
    days = load_holidays(VN)
    assert {date(2026, 2, 17), date(2026, 9, 2), date(2027, 4, 16)} <= days  # Tết, National Day, Hùng Kings
    bad = tmp_path / "bad.yml"
    bad.write_text("dates: [2026-13-01]\n")
    with pytest.raises(ConfigError):
        load_holidays(bad)


def test_tracker_needs_regular_hosts_opt_in_and_a_cap() -> None:
    config = HostSilenceConfig(
        sources={
            "relay": SourceHostSilence(),
            "servers": SourceHostSilence(always=True),
            "off": SourceHostSilence(enabled=False),
        },
        min_events=2,
        silent_after_secs=3600,
        max_hosts_per_source=2,
    )
    tracker = HostSilenceTracker(config)
    for source in ("relay", "servers", "off", "undeclared"):
        for host in ("a", "a", "once", "b", "b"):
            tracker.observe(source, host, "so-tttt", at(12, 9))  # Saturday
    zone = lambda _source: "Asia/Ho_Chi_Minh"  # noqa: E731
    found = tracker.check(at(12, 12), zone)
    # Saturday: only the always-on source counts; "once" sent too little; "b" was past the cap.
    assert [(a["canhgac"]["source_id"], a["host"]["name"]) for a in found] == [("servers", "a")]
    assert tracker.check(at(12, 13), zone) == []  # raised once
    cleared = tracker.observe("servers", "A", "so-tttt", at(12, 14))  # host names ignore case
    assert cleared and cleared[0]["cleared_at"]
