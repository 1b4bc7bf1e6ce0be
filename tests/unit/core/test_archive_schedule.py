"""Which days the archive schedule holds, and a day's bounds, in the settings' time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from canhgac.core.archive import day_bounds, due_days
from canhgac.core.archive_config import ArchiveConfig
from canhgac.core.timezones import parse_zone
from pydantic import ValidationError

HCM = parse_zone("+07:00")


def test_yesterday_is_due_only_after_the_run_time_local() -> None:
    cfg = ArchiveConfig(run_at_local="02:00", lookback_days=2)
    # 18:30 UTC on 5 Dec is 01:30 on 6 Dec in Hanoi: before the run time, 4 Dec is the last day.
    assert due_days(cfg, HCM, datetime(2026, 12, 5, 18, 30, tzinfo=UTC)) == [
        date(2026, 12, 2),
        date(2026, 12, 3),
        date(2026, 12, 4),
    ]
    assert due_days(cfg, HCM, datetime(2026, 12, 5, 19, 0, tzinfo=UTC))[-1] == date(2026, 12, 5)


def test_a_day_is_local_midnight_to_midnight() -> None:
    start, end = day_bounds(date(2026, 12, 1), HCM)
    assert (start, end) == (datetime(2026, 11, 30, 17, tzinfo=UTC), datetime(2026, 12, 1, 17, tzinfo=UTC))


@pytest.mark.parametrize("bad", [{"run_at_local": "24:00"}, {"repository": "Bad Name"}, {"datasets": ["x*"]}])
def test_bad_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ArchiveConfig(**bad)  # type: ignore[arg-type]
