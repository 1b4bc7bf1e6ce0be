"""Periodic reports without servers: periods, percentiles, handling times, when a schedule is due,
the settings' refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from canhgac.api.reports.figures import durations, last_closed_period, percentile, period_of
from canhgac.api.reports.render import duration_vi
from canhgac.api.reports.service import schedule_due
from canhgac.core.report_config import ReportsConfig
from pydantic import ValidationError

TZ = "Asia/Ho_Chi_Minh"


def test_periods_in_local_time() -> None:
    week = period_of("weekly", date(2026, 12, 3), TZ)  # a Thursday
    assert (week.first_day, week.last_day) == (date(2026, 11, 30), date(2026, 12, 6))
    feb = period_of("monthly", date(2028, 2, 10), TZ)
    assert (feb.first_day, feb.last_day) == (date(2028, 2, 1), date(2028, 2, 29))
    day = period_of("daily", date(2026, 12, 5), TZ)
    assert day.start.astimezone(UTC) == datetime(2026, 12, 4, 17, tzinfo=UTC)  # midnight at UTC+7
    assert day.end.astimezone(UTC) == datetime(2026, 12, 5, 17, tzinfo=UTC)
    assert last_closed_period("monthly", date(2026, 12, 6), TZ).first_day == date(2026, 11, 1)
    assert last_closed_period("monthly", date(2026, 1, 1), TZ).first_day == date(2025, 12, 1)
    assert last_closed_period("weekly", date(2026, 12, 6), TZ).first_day == date(2026, 11, 23)
    assert last_closed_period("daily", date(2026, 12, 6), TZ).first_day == date(2026, 12, 5)


def test_nearest_rank_percentiles() -> None:
    assert percentile([], 0.5) is None
    assert percentile([300, 1800, 600, 1200], 0.5) == 600
    assert percentile([300, 1800, 600, 1200], 0.9) == 1800
    assert percentile([5], 0.9) == 5


def test_handling_times_from_the_history() -> None:
    created = "2026-11-03T01:00:00.000Z"
    acked_then_closed = {
        "created_at": created,
        "history": [
            {"at": created, "action": "created"},
            {"at": "2026-11-03T01:10:00Z", "action": "status", "to": "acknowledged"},
            {"at": "2026-11-03T01:15:00Z", "action": "comment"},
            {"at": "2026-11-03T03:00:00Z", "action": "status", "to": "closed"},
        ],
    }
    assert durations(acked_then_closed) == (600, 7200)
    closed_at_once = {
        "created_at": created,
        "history": [{"at": "2026-11-03T01:30:00Z", "action": "status", "to": "closed"}],
    }
    assert durations(closed_at_once) == (1800, 1800)
    assert durations({"created_at": created, "status": "new", "history": []}) == (None, None)
    assert durations({"history": []}) == (None, None)


def test_a_schedule_is_due_after_its_time_on_the_day_after_the_period() -> None:
    november = period_of("monthly", date(2026, 11, 15), TZ)
    assert not schedule_due("07:00", november, datetime(2026, 11, 30, 23, 0, tzinfo=UTC))  # 06:00 Dec 1 local
    assert schedule_due("07:00", november, datetime(2026, 12, 1, 0, 0, tzinfo=UTC))  # 07:00 local


def test_durations_in_vietnamese() -> None:
    assert duration_vi(None) == "chưa có"
    assert duration_vi(45) == "45 giây"
    assert duration_vi(3700) == "1 giờ 1 phút"
    assert duration_vi(90000) == "1 ngày 1 giờ"


def test_settings_refuse_mail_without_a_relay_and_passwords_in_clear() -> None:
    with pytest.raises(ValidationError, match=r"configure reports\.smtp"):
        ReportsConfig(email_receipts=True)
    with pytest.raises(ValidationError, match="province_recipients"):
        ReportsConfig(
            smtp={"host": "mail", "from_addr": "a@b.vn"}, schedules=[{"period": "daily", "scope": "province"}]
        )
    with pytest.raises(ValidationError, match="without TLS"):
        ReportsConfig(
            smtp={"host": "mail", "from_addr": "a@b.vn", "security": "none", "username": "u", "password_env": "P"}
        )
    with pytest.raises(ValidationError, match="not an e-mail address"):
        ReportsConfig(agency_recipients={"so-tttt": ("nobody",)})
    with pytest.raises(ValidationError, match="pattern"):
        ReportsConfig(
            smtp={"host": "mail", "from_addr": "a@b.vn"},
            province_recipients=("soc@b.vn",),
            schedules=[{"period": "daily", "scope": "province", "at": "25:00"}],
        )
