"""IBM QRadar's Log Event Extended Format: `LEEF:1.0|vendor|product|version|eventid|attrs` (tab
separated) or `LEEF:2.0|vendor|product|version|eventid|delimiter|attrs`.

LEEF 2.0 names its delimiter as a character or in hex (`^`, `x5E`, `0x09`). Attributes are split on
the delimiter first, then on the first '=' only, so '=' inside values needs no escape.
"""

from __future__ import annotations

import re
from datetime import tzinfo
from typing import Any, ClassVar

from canhgac.core.envelope import RawEnvelope
from canhgac.core.errors import ParseError
from canhgac.core.event import Event
from canhgac.pipeline.normalize.base import parsers
from canhgac.pipeline.normalize.cef import parse_cef_time
from canhgac.pipeline.normalize.fieldvalues import add_related, int_or_none, put_typed
from canhgac.pipeline.normalize.syslog import SyslogMessage, SyslogParser
from canhgac.pipeline.normalize.syslog_extensions import body_formats
from canhgac.pipeline.normalize.timestamps import DEFAULT_TZ_NAME, parse_rfc3339, to_utc_iso, zone

DATASET = "leef"
_FIELD = r"((?:[^|\\]|\\.)*)\|"
_HEADER_RE = re.compile(r"LEEF:(1\.0|2\.0|1|2)\|" + _FIELD * 4, re.DOTALL)
_DELIM_RE = re.compile(r"((?:[^|\\]|\\.){0,6})\|")
_UNESCAPE_RE = re.compile(r"\\([|\\])")

LEEF_TO_ECS: dict[str, tuple[str, str]] = {
    "src": ("source.ip", "ip"), "srcPort": ("source.port", "port"), "srcMAC": ("source.mac", "keyword"),
    "dst": ("destination.ip", "ip"), "dstPort": ("destination.port", "port"),
    "dstMAC": ("destination.mac", "keyword"),
    "srcPostNAT": ("source.nat.ip", "ip"), "srcPostNATPort": ("source.nat.port", "port"),
    "dstPreNAT": ("destination.nat.ip", "ip"), "dstPreNATPort": ("destination.nat.port", "port"),
    "srcBytes": ("source.bytes", "long"), "dstBytes": ("destination.bytes", "long"),
    "srcPackets": ("source.packets", "long"), "dstPackets": ("destination.packets", "long"),
    "proto": ("network.transport", "keyword"), "usrName": ("user.name", "keyword"),
    "accountName": ("user.name", "keyword"), "identHostName": ("host.name", "keyword"),
    "url": ("url.original", "keyword"), "policy": ("rule.name", "keyword"),
    "action": ("event.action", "keyword"), "cat": ("event.category_name", "keyword"),
}  # fmt: skip


def _delimiter(spec: str) -> str:
    if not spec:
        return "\t"
    lowered = spec.lower()
    if lowered.startswith(("0x", "x")) and len(spec) > 1:
        try:
            return chr(int(lowered.lstrip("0").lstrip("x"), 16))
        except ValueError as exc:
            raise ParseError(f"LEEF delimiter {spec!r} is not a hex character code") from exc
    return spec[0]


def apply_leef(event: Event, text: str, tz: tzinfo) -> None:
    start = text.find("LEEF:")
    if start < 0:
        raise ParseError("no 'LEEF:' header")
    m = _HEADER_RE.match(text, start)
    if m is None:
        raise ParseError("LEEF header needs vendor|product|version|eventid")
    version, *header = m.groups()
    vendor, product, dev_version, event_id = (_UNESCAPE_RE.sub(r"\1", h) if "\\" in h else h for h in header)
    pos = m.end()
    delimiter = "\t"
    if version.startswith("2"):
        d = _DELIM_RE.match(text, pos)
        if d is not None:
            delimiter = _delimiter(d.group(1))
            pos = d.end()
    attrs: dict[str, str] = {}
    for part in text[pos:].split(delimiter):
        key, sep, value = part.partition("=")
        key = key.strip()
        if sep and key:
            attrs[key] = value
    if not attrs and text[pos:].strip():
        raise ParseError(f"LEEF attributes not split by {delimiter!r}")
    for key, (field, kind) in LEEF_TO_ECS.items():
        if key in attrs:
            put_typed(event, field, attrs[key], kind)
    category_name = event.get("event", {}).pop("category_name", None)
    dev_time = attrs.get("devTime")
    if dev_time:
        ts = parse_cef_time(dev_time, tz) or parse_rfc3339(dev_time, tz)
        if ts is not None:
            event["@timestamp"] = to_utc_iso(ts)
    if (sev := int_or_none(attrs.get("sev"))) is not None:
        event["event"]["severity"] = sev
    for side in ("source", "destination"):
        add_related(event, "ip", event.get(side, {}).get("ip"))
    add_related(event, "user", event.get("user", {}).get("name"))
    event["event"]["code"] = event_id
    event.setdefault("observer", {}).update({"vendor": vendor, "product": product, "version": dev_version})
    leef: dict[str, Any] = {
        "version": version,
        "device": {"vendor": vendor, "product": product, "version": dev_version},
        "event_id": event_id,
        "attributes": attrs,
    }
    if category_name:
        leef["category"] = category_name
    event["leef"] = leef
    event["canhgac"]["dataset"] = DATASET
    slug = re.sub(r"[^a-z0-9]+", "_", product.lower()).strip("_") or "unknown"
    event["canhgac"]["logsource"] = {"product": slug, "service": "leef"}


class LeefBody:
    name: ClassVar[str] = "leef"

    def detect(self, msg: SyslogMessage) -> bool:
        return "LEEF:" in msg.message[:64]

    def apply(self, event: Event, msg: SyslogMessage) -> None:
        apply_leef(event, msg.message, msg.tz or zone(DEFAULT_TZ_NAME))


_BODY = LeefBody()
body_formats.register("leef")(_BODY)


@parsers.register("leef")
class LeefParser:
    name: ClassVar[str] = "leef"

    def __init__(self, default_tz: str = "Asia/Ho_Chi_Minh") -> None:
        self._syslog = SyslogParser(default_tz)

    def parse(self, raw: RawEnvelope) -> Event:
        return self._syslog.parse_as(raw, _BODY)
