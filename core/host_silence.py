"""Per-host silence inside a source (issue 16, item 3): settings, working hours and holidays.

A source behind a shared relay carries many hosts. A host that has sent regularly (at least
`min_events` events) and then sends nothing for `silent_after_secs` of *working time* is "silent".
Working time is the part of the wall clock inside the working hours (days of the week and a time
range, in the source's own time zone) that is not a holiday. Outside it the clock stops: an office
PC that last sent on Friday at 17:00 is not silent on Saturday, Sunday or Tết, and is silent on
Monday only once `silent_after_secs` of Monday's working hours have passed without it.
Without working hours every second counts (servers that run day and night).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

import yaml
from canhgac.core import safe_yaml
from canhgac.core.errors import ConfigError
from canhgac.core.timezones import parse_zone
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Working time further back than this is not counted exactly (a host silent for longer is long
# past any threshold); keeps one check bounded whatever the gap.
MAX_DAYS_COUNTED = 62


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _hhmm(value: str) -> time:
    try:
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))
    except ValueError as exc:
        raise ValueError(f"not a time of day (HH:MM): {value!r}") from exc


class WorkingHours(_Strict):
    """Days are ISO weekdays (1 = Monday … 7 = Sunday); `start`–`end` the same day, local time."""

    days: tuple[int, ...] = (1, 2, 3, 4, 5)
    start: str = "07:30"
    end: str = "17:30"

    @field_validator("days")
    @classmethod
    def _days(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(d < 1 or d > 7 for d in value):
            raise ValueError("days are 1 (Monday) to 7 (Sunday), at least one")
        return value

    @model_validator(mode="after")
    def _range(self) -> WorkingHours:
        if _hhmm(self.start) >= _hhmm(self.end):
            raise ValueError("working hours: start must be before end (same day)")
        return self


class SourceHostSilence(_Strict):
    """One source's overrides; a field left out takes the section's default."""

    enabled: bool = True
    silent_after_secs: int | None = Field(default=None, ge=60)
    min_events: int | None = Field(default=None, ge=1)
    # `null` (or left out): the section's working hours; `always: true`: every hour counts.
    working_hours: WorkingHours | None = None
    always: bool = False


class HostSilenceConfig(_Strict):
    """`host_silence:` in the settings. Per-host tracking is opt-in per source (`sources`), or for
    every declared source with `all_sources: true`."""

    all_sources: bool = False
    sources: dict[str, SourceHostSilence] = {}
    silent_after_secs: int = Field(default=2 * 3600, ge=60)
    min_events: int = Field(default=20, ge=1)
    # The default for office machines; `null` makes every hour count for every tracked source.
    working_hours: WorkingHours | None = WorkingHours()
    holidays: tuple[date, ...] = ()
    # YAML: a list of dates, or {dates: [...]} (deploy/holidays/vn.yml is the Vietnamese example).
    holidays_file: str | None = None
    max_hosts_per_source: int = Field(default=5_000, ge=1)

    def for_source(self, source_id: str) -> SourceHostSilence | None:
        """The source's settings if its hosts are tracked, else None."""
        own = self.sources.get(source_id)
        if own is not None:
            return own if own.enabled else None
        return SourceHostSilence() if self.all_sources else None

    def threshold_secs(self, source: SourceHostSilence) -> int:
        return source.silent_after_secs or self.silent_after_secs

    def minimum_events(self, source: SourceHostSilence) -> int:
        return source.min_events or self.min_events

    def hours_for(self, source: SourceHostSilence) -> WorkingHours | None:
        if source.always:
            return None
        return source.working_hours or self.working_hours


def load_holidays(path: str | Path) -> frozenset[date]:
    """The dates of a holidays file: a YAML list of dates, or a mapping with `dates`."""
    try:
        raw: Any = safe_yaml.load(Path(path).read_bytes())
    except (OSError, ValueError, yaml.YAMLError) as exc:  # ValueError: a date YAML cannot build
        raise ConfigError(f"holidays file {path}: {exc}") from exc
    if isinstance(raw, dict):
        raw = raw.get("dates")
    if not isinstance(raw, list):
        raise ConfigError(f"holidays file {path}: expected a list of dates (or `dates:`)")
    days = set()
    for item in raw:
        try:
            days.add(item if isinstance(item, date) else date.fromisoformat(str(item)))
        except ValueError as exc:
            raise ConfigError(f"holidays file {path}: not a date: {item!r}") from exc
    return frozenset(days)


class WorkCalendar:
    """Working seconds between two instants, in one zone, for given working hours and holidays."""

    def __init__(self, hours: WorkingHours | None, holidays: frozenset[date], zone: tzinfo | str) -> None:
        self.hours = hours
        self.holidays = holidays
        self.zone = parse_zone(zone) if isinstance(zone, str) else zone

    def is_working(self, when: datetime) -> bool:
        if self.hours is None:
            return True
        local = when.astimezone(self.zone)
        if local.date() in self.holidays or local.isoweekday() not in self.hours.days:
            return False
        return _hhmm(self.hours.start) <= local.time() < _hhmm(self.hours.end)

    def working_secs(self, since: datetime, until: datetime) -> float:
        if until <= since:
            return 0.0
        if self.hours is None:
            return (until - since).total_seconds()
        start_t, end_t = _hhmm(self.hours.start), _hhmm(self.hours.end)
        since = max(since, until - timedelta(days=MAX_DAYS_COUNTED))
        day = since.astimezone(self.zone).date()
        last = until.astimezone(self.zone).date()
        total = 0.0
        while day <= last:
            if day not in self.holidays and day.isoweekday() in self.hours.days:
                open_at = datetime.combine(day, start_t, tzinfo=self.zone)
                close_at = datetime.combine(day, end_t, tzinfo=self.zone)
                lo, hi = max(open_at, since), min(close_at, until)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return total
