"""Time stamps as logs write them, turned into aware datetimes and the event's UTC `@timestamp`.

Many sources (BSD syslog, web servers' local logs, FortiGate) write wall-clock time without a
zone or a year. We interpret it in the source's zone (Vietnam unless configured) and take the
year that puts the record closest to when it was received, so a December record read in January
lands in the old year.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache

from canhgac.core.timezones import parse_zone

DEFAULT_TZ_NAME = "Asia/Ho_Chi_Minh"
_FUTURE_SLACK = timedelta(days=7)

MONTHS = {
    "Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6,
    "Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12,
}  # fmt: skip

# RFC 3339 as RFC 5424 allows it (plus a space instead of 'T', which some shippers write).
# Checked before datetime.fromisoformat, which also accepts ISO forms no log writes (week dates …).
RFC3339_RE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|z|[+-]\d{2}:?\d{2})?\Z")


@lru_cache(maxsize=64)
def zone(name: str) -> tzinfo:
    """A zone by IANA name, `UTC` or a fixed offset (`+07:00`); a bad name is a ConfigError."""
    return parse_zone(name)


def parse_rfc3339(text: str, default_tz: tzinfo) -> datetime | None:
    """RFC 3339 / ISO time stamp; None when it is not one or the date does not exist."""
    if not RFC3339_RE.match(text):
        return None
    if len(text) > 19 and text[19] in ".,":
        # fromisoformat takes at most 6 fraction digits in some forms; nanoseconds lose nothing we keep.
        end = 20
        while end < len(text) and text[end].isdigit():
            end += 1
        frac = text[20:end][:6]
        text = text[:19] + "." + frac + text[end:]
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        return None
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=default_tz)


def infer_year(
    month: int, day: int, hour: int, minute: int, second: int, micro: int, tz: tzinfo, reference: datetime
) -> datetime | None:
    """The latest of (reference year ± 1) that is not after the reference by more than a week.

    Records come from the past, so "Dec 31" read on Jan 1 is last year's and "Jan 1" read on
    Dec 31 (a sender's clock slightly ahead) is next year's; the week absorbs clock skew."""
    limit = reference + _FUTURE_SLACK
    for year in (reference.year + 1, reference.year, reference.year - 1):
        try:
            candidate = datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
        except ValueError:  # Feb 29 outside a leap year
            continue
        if candidate <= limit:
            return candidate
    return None


def parse_received_at(value: str | None) -> datetime:
    """The envelope's `received_at`, the reference for year inference; now when absent or odd.

    Year inference needs it to the day at best, so it is read to the hour and cached: parsing it
    for every record cost as much as parsing the record's own header."""
    if value and len(value) >= 13:
        ts = _received_hour(value[:13])
        if ts is not None:
            return ts
    return datetime.now(UTC)


@lru_cache(maxsize=64)
def _received_hour(prefix: str) -> datetime | None:
    return parse_rfc3339(prefix + ":00:00Z", UTC)


def to_utc_iso(ts: datetime) -> str:
    """`@timestamp` as we write it: UTC, milliseconds or microseconds, ending in Z."""
    utc = ts.astimezone(UTC)
    spec = "milliseconds" if utc.microsecond % 1000 == 0 else "microseconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"
