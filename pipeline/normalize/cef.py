"""ArcSight Common Event Format: `CEF:0|vendor|product|version|signature|name|severity|ext`.

Header fields escape `|` and `\\`; extension values escape `=` and `\\` and may hold spaces, so a
key starts only where `name=` follows a space. Common keys are mapped to ECS; every key is also
kept verbatim under `cef.extensions` (custom strings cs1..cs6 keep their labels there too).
Logsource: the device product (lower-case) with service "cef", since CEF comes from many devices.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from typing import ClassVar

from canhgac.core.envelope import RawEnvelope
from canhgac.core.errors import ParseError
from canhgac.core.event import Event
from canhgac.pipeline.normalize.base import parsers
from canhgac.pipeline.normalize.fieldvalues import add_related, put_typed
from canhgac.pipeline.normalize.syslog import SyslogMessage, SyslogParser
from canhgac.pipeline.normalize.syslog_extensions import body_formats
from canhgac.pipeline.normalize.timestamps import DEFAULT_TZ_NAME, MONTHS, to_utc_iso, zone

DATASET = "cef"
_FIELD = r"((?:[^|\\]|\\.)*)\|"
_HEADER_RE = re.compile(r"CEF: ?(\d+)\|" + _FIELD * 6, re.DOTALL)
_KEY_RE = re.compile(r"(?:^|(?<= ))([\w.\[\]-]{1,64})=")
_HEADER_UNESCAPE_RE = re.compile(r"\\([|\\])")
_VALUE_UNESCAPE_RE = re.compile(r"\\([=\\nr])")
_DATE_RE = re.compile(r"(\w{3}) (\d{1,2}) (\d{4}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?")
_SEVERITY_WORDS = {"unknown": 0, "low": 3, "medium": 6, "high": 8, "very-high": 10}

# CEF key -> (ECS field, type). Only what both sides define precisely.
CEF_TO_ECS: dict[str, tuple[str, str]] = {
    "src": ("source.ip", "ip"), "spt": ("source.port", "port"), "shost": ("source.domain", "keyword"),
    "smac": ("source.mac", "keyword"), "suser": ("source.user.name", "keyword"),
    "dst": ("destination.ip", "ip"), "dpt": ("destination.port", "port"),
    "dhost": ("destination.domain", "keyword"), "dmac": ("destination.mac", "keyword"),
    "duser": ("destination.user.name", "keyword"),
    "sourceTranslatedAddress": ("source.nat.ip", "ip"), "sourceTranslatedPort": ("source.nat.port", "port"),
    "destinationTranslatedAddress": ("destination.nat.ip", "ip"),
    "destinationTranslatedPort": ("destination.nat.port", "port"),
    "in": ("source.bytes", "long"), "out": ("destination.bytes", "long"),
    "proto": ("network.transport", "keyword"), "app": ("network.protocol", "keyword"),
    "act": ("event.action", "keyword"), "reason": ("event.reason", "keyword"),
    "request": ("url.original", "keyword"), "requestMethod": ("http.request.method", "keyword"),
    "requestClientApplication": ("user_agent.original", "keyword"),
    "fname": ("file.name", "keyword"), "filePath": ("file.path", "keyword"), "fsize": ("file.size", "long"),
    "fileHash": ("file.hash.sha256", "keyword"),
    "dvc": ("observer.ip", "ip"), "dvchost": ("observer.hostname", "keyword"),
    "deviceExternalId": ("observer.serial_number", "keyword"),
    "sproc": ("process.name", "keyword"), "spid": ("process.pid", "long"),
    "dproc": ("process.name", "keyword"), "dpid": ("process.pid", "long"),
    "deviceProcessName": ("process.name", "keyword"),
    "cnt": ("event.count", "long"), "externalId": ("event.id", "keyword"),
}  # fmt: skip


def split_extension(text: str) -> dict[str, str]:
    keys = list(_KEY_RE.finditer(text))
    out: dict[str, str] = {}
    for i, m in enumerate(keys):
        end = keys[i + 1].start() - 1 if i + 1 < len(keys) else len(text)
        value = text[m.end() : end].rstrip(" ") if i + 1 == len(keys) else text[m.end() : end]
        if "\\" in value:
            value = _VALUE_UNESCAPE_RE.sub(lambda e: {"n": "\n", "r": "\r"}.get(e.group(1), e.group(1)), value)
        out[m.group(1)] = value
    return out


def parse_cef_time(value: str, tz: tzinfo = UTC) -> datetime | None:
    """`rt`/`start`/`end`: epoch milliseconds or 'MMM dd yyyy HH:mm:ss[.SSS]' (the device's zone)."""
    if value.isdigit() and 10 <= len(value) <= 13:
        try:
            return datetime.fromtimestamp(int(value) / (1000 if len(value) == 13 else 1), UTC)
        except (OverflowError, OSError, ValueError):
            return None
    m = _DATE_RE.match(value)
    if m is None or m.group(1) not in MONTHS:
        return None
    mon, d, y, hh, mi, ss, ms = m.groups()
    try:
        micro = int((ms or "0").ljust(3, "0")) * 1000
        return datetime(int(y), MONTHS[mon], int(d), int(hh), int(mi), int(ss), micro, tzinfo=tz)
    except ValueError:
        return None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "unknown"


def apply_cef(event: Event, text: str, tz: tzinfo) -> None:
    start = text.find("CEF:")
    if start < 0:
        raise ParseError("no 'CEF:' header")
    m = _HEADER_RE.match(text, start)
    if m is None:
        raise ParseError("CEF header needs 7 '|'-separated fields")
    version, *header = m.groups()
    vendor, product, dev_version, signature, name, severity = (
        _HEADER_UNESCAPE_RE.sub(r"\1", h) if "\\" in h else h for h in header
    )
    ext = split_extension(text[m.end() :])
    for key, (field, kind) in CEF_TO_ECS.items():
        if key in ext:
            put_typed(event, field, ext[key], kind)
    for key in ("rt", "end", "start"):
        if key in ext and (ts := parse_cef_time(ext[key], tz)) is not None:
            if key == "rt":
                event["@timestamp"] = to_utc_iso(ts)
            else:
                event["event"][key] = to_utc_iso(ts)
    if "@timestamp" not in event and "end" in event["event"]:
        event["@timestamp"] = event["event"]["end"]
    user_name = ext.get("suser") or ext.get("duser")
    if user_name:
        event["user"] = {"name": user_name}
        add_related(event, "user", user_name)
    for side in ("source", "destination"):
        add_related(event, "ip", event.get(side, {}).get("ip"))
    if "url" in event:
        path, sep, query = event["url"]["original"].partition("?")
        url = event["url"]
        if "://" in path:
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        url["path"] = path
        if sep and query:
            url["query"] = query
    outcome = ext.get("outcome", "").lower()
    if outcome in ("success", "failure"):
        event["event"]["outcome"] = outcome
    event["message"] = ext.get("msg") or name
    observer = event.setdefault("observer", {})
    observer.update({"vendor": vendor, "product": product, "version": dev_version})
    event["event"]["code"] = signature
    sev = severity.strip().lower()
    level = int(sev) if sev.isdigit() and len(sev) <= 2 else _SEVERITY_WORDS.get(sev)
    if level is not None:
        event["event"]["severity"] = level
    event["cef"] = {
        "version": version,
        "device": {"vendor": vendor, "product": product, "version": dev_version, "event_class_id": signature},
        "name": name,
        "severity": severity,
        "extensions": ext,
    }
    event["canhgac"]["dataset"] = DATASET
    event["canhgac"]["logsource"] = {"product": _slug(product), "service": "cef"}


class CefBody:
    name: ClassVar[str] = "cef"

    def detect(self, msg: SyslogMessage) -> bool:
        return "CEF:" in msg.message[:64]

    def apply(self, event: Event, msg: SyslogMessage) -> None:
        apply_cef(event, msg.message, msg.tz or zone(DEFAULT_TZ_NAME))


_BODY = CefBody()
body_formats.register("cef")(_BODY)


@parsers.register("cef")
class CefParser:
    name: ClassVar[str] = "cef"

    def __init__(self, default_tz: str = "Asia/Ho_Chi_Minh") -> None:
        self._syslog = SyslogParser(default_tz)

    def parse(self, raw: RawEnvelope) -> Event:
        return self._syslog.parse_as(raw, _BODY)
