"""Property tests: a well-formed RFC 5424 / RFC 3164 line, built from random fields, parses back
to those fields; and the small value helpers behave at their edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from canhgac.pipeline.normalize.fieldvalues import int_or_none, ip_or_none, port_or_none
from canhgac.pipeline.normalize.syslog import parse_syslog
from canhgac.pipeline.normalize.timestamps import infer_year, parse_rfc3339, to_utc_iso
from hypothesis import example, given, settings
from hypothesis import strategies as st

PRINTUSASCII = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=24)
NAME = PRINTUSASCII.filter(lambda s: s != "-")
SD_NAME = st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters='= ]"'), min_size=1,
                  max_size=16)  # fmt: skip
SD_VALUE = st.text(max_size=20).filter(lambda s: "\x00" not in s and not s.endswith(("\r", "\n")))
REF = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


@settings(max_examples=150, deadline=None)
@given(
    pri=st.integers(0, 191),
    when=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
    offset_minutes=st.integers(-12 * 60, 14 * 60),
    host=NAME, app=NAME, procid=NAME, msgid=NAME,
    sd=st.dictionaries(SD_NAME, st.dictionaries(SD_NAME, SD_VALUE, max_size=3), max_size=3),
    message=st.text(max_size=60).map(lambda s: s.rstrip("\r\n\x00")),
)  # fmt: skip
# The case a CI run found: a message of one space.
@example(
    pri=0, when=datetime(2000, 1, 1), offset_minutes=0, host="0", app="0", procid="0", msgid="0", sd={}, message=" "
)
def test_5424_round_trip(pri, when, offset_minutes, host, app, procid, msgid, sd, message) -> None:
    tz = timezone(timedelta(minutes=offset_minutes))
    stamp = when.replace(tzinfo=tz)
    sign = "+" if offset_minutes >= 0 else "-"
    off = f"{sign}{abs(offset_minutes) // 60:02d}:{abs(offset_minutes) % 60:02d}"
    ts_text = stamp.replace(tzinfo=None).isoformat(timespec="microseconds") + off
    sd_text = (
        "".join(
            f"[{sd_id}" + "".join(f' {k}="{_escape(v)}"' for k, v in params.items()) + "]"
            for sd_id, params in sd.items()
        )
        or "-"
    )
    line = f"<{pri}>1 {ts_text} {host} {app} {procid} {msgid} {sd_text}" + (f" {message}" if message else "")
    m = parse_syslog(line, reference=REF)
    assert m.rfc == "5424"
    assert (m.priority, m.facility, m.severity, m.version) == (pri, pri >> 3, pri & 7, 1)
    assert m.timestamp == stamp
    assert (m.hostname, m.app_name, m.procid, m.msgid) == (host, app, procid, msgid)
    assert m.structured_data == sd
    # The parser drops the spaces that start MSG (rsyslog's RFC 5424 templates keep the one that
    # followed the RFC 3164 tag: pipeline/normalize/syslog.py), so " x" reads back as "x".
    assert m.message == message.removeprefix("\ufeff").lstrip(" ")


@settings(max_examples=150, deadline=None)
@given(
    pri=st.integers(0, 191),
    when=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 11, 26)),
    host=st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z0-9-]{1,10}){0,2}", fullmatch=True),
    tag=st.from_regex(r"[a-zA-Z][a-zA-Z0-9_.-]{0,20}", fullmatch=True),
    pid=st.none() | st.integers(1, 4_000_000).map(str),
    message=st.text(st.characters(min_codepoint=32, max_codepoint=0xFFFF), max_size=60).map(str.strip),
)  # fmt: skip
def test_3164_round_trip(pri, when, host, tag, pid, message) -> None:
    stamp = when.replace(microsecond=0)
    ts_text = f"{stamp:%b} {stamp.day:>2} {stamp:%H:%M:%S}"
    line = f"<{pri}>{ts_text} {host} {tag}" + (f"[{pid}]" if pid else "") + f": {message}"
    m = parse_syslog(line, default_tz=UTC, reference=REF)
    assert m.rfc == "3164"
    assert m.timestamp == stamp.replace(tzinfo=UTC)
    assert (m.hostname, m.app_name, m.procid, m.message) == (host, tag, pid, message)


def test_infer_year_edges() -> None:
    ref = datetime(2028, 3, 1, tzinfo=UTC)
    assert infer_year(2, 29, 0, 0, 0, 0, UTC, ref) == datetime(2028, 2, 29, tzinfo=UTC)  # leap year
    assert infer_year(2, 29, 0, 0, 0, 0, UTC, datetime(2027, 3, 1, tzinfo=UTC)) is None  # no Feb 29 near
    assert infer_year(3, 5, 0, 0, 0, 0, UTC, ref).year == 2028  # 4 days ahead: clock skew, same year
    assert infer_year(3, 20, 0, 0, 0, 0, UTC, ref).year == 2027  # weeks ahead: last year's


def test_rfc3339_and_utc_iso() -> None:
    assert parse_rfc3339("2026-11-26T08:00:00,5+07:00", UTC) == datetime(2026, 11, 26, 1, 0, 0, 500000, tzinfo=UTC)
    assert parse_rfc3339("2026-11-26 08:00:00z", UTC) == datetime(2026, 11, 26, 8, tzinfo=UTC)
    assert parse_rfc3339("2026-W48-4", UTC) is None
    assert parse_rfc3339("2026-13-01T00:00:00Z", UTC) is None
    assert to_utc_iso(datetime(2026, 11, 26, 8, tzinfo=timezone(timedelta(hours=7)))) == "2026-11-26T01:00:00.000Z"
    assert to_utc_iso(datetime(2026, 11, 26, 1, 0, 0, 1, tzinfo=UTC)) == "2026-11-26T01:00:00.000001Z"


def test_value_helpers() -> None:
    assert ip_or_none("[2001:db8::1]") == "2001:db8::1"
    assert ip_or_none("fe80::1%eth0") == "fe80::1"
    assert ip_or_none("2001:0db8:0000::1") == "2001:db8::1"
    assert ip_or_none("01.2.3.4") is None and ip_or_none("host.example") is None and ip_or_none("") is None
    assert int_or_none("-12") == -12 and int_or_none("1e3") is None and int_or_none(True) is None
    assert int_or_none("٣") is None  # Arabic-Indic digit: isdigit() says yes, int() would accept it
    assert port_or_none("65535") == 65535 and port_or_none("65536") is None and port_or_none("-1") is None
