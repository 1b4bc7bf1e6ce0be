"""Time zones a source may declare: an IANA name (`Asia/Ho_Chi_Minh`), `UTC`, or a fixed offset
(`+07:00`, as syslog and ISO 8601 write them). Lives in core so the settings, the API and the
parsers accept exactly the same names."""

from __future__ import annotations

import re
from datetime import UTC, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from canhgac.core.errors import ConfigError

_OFFSET = re.compile(r"^(?:UTC|GMT)?([+-])(\d{2}):?(\d{2})$")


@lru_cache(maxsize=512)
def parse_zone(name: str) -> tzinfo:
    """The zone `name` stands for; ConfigError for a name that is none of the three forms."""
    if name in ("UTC", "Z", "Etc/UTC"):
        return UTC
    offset = _OFFSET.match(name)
    if offset is not None:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        if delta > timedelta(hours=14) or int(minutes) >= 60:
            raise ConfigError(f"time zone offset {name!r} out of range (-14:00 .. +14:00)")
        return timezone(-delta if sign == "-" else delta, name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"unknown time zone {name!r} (an IANA name like Asia/Ho_Chi_Minh, UTC, or an offset like +07:00)"
        ) from exc
