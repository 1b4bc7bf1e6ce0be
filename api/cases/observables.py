"""Observables of a case: the IPs, users, hosts, hashes, URLs and domains named by its alerts.

They are read from the alert's own ECS blocks (`host`, `user`, `source`) and from its event
snapshot (`event`, the first event's ECS fields and Winlogbeat's `winlog.event_data`), each value
once per type, with the alerts it came from.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any

from canhgac.core.event import get_path

# (type, dotted path) in the order an analyst reads them; a path may hold a value or a list.
FIELDS: tuple[tuple[str, str], ...] = (
    ("ip", "source.ip"),
    ("ip", "destination.ip"),
    ("ip", "client.ip"),
    ("ip", "server.ip"),
    ("ip", "host.ip"),
    ("ip", "winlog.event_data.IpAddress"),
    ("ip", "winlog.event_data.SourceIp"),
    ("ip", "winlog.event_data.DestinationIp"),
    ("user", "user.name"),
    ("user", "user.target.name"),
    ("user", "winlog.event_data.TargetUserName"),
    ("user", "winlog.event_data.SubjectUserName"),
    ("host", "host.name"),
    ("host", "host.hostname"),
    ("host", "winlog.computer_name"),
    ("hash", "file.hash.md5"),
    ("hash", "file.hash.sha1"),
    ("hash", "file.hash.sha256"),
    ("hash", "process.hash.md5"),
    ("hash", "process.hash.sha1"),
    ("hash", "process.hash.sha256"),
    ("url", "url.full"),
    ("url", "url.original"),
    ("domain", "url.domain"),
    ("domain", "dns.question.name"),
    ("domain", "destination.domain"),
)
# Sysmon's `Hashes` field: "SHA1=…,MD5=…,SHA256=…,IMPHASH=…".
_SYSMON_HASH = re.compile(r"\b(?:MD5|SHA1|SHA256)=([0-9A-Fa-f]{32,64})\b")
_HASH = re.compile(r"^(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64})$")
# Values that name nobody: Windows' placeholders and empty markers.
_NOTHING = frozenset({"-", "", "::1", "127.0.0.1", "localhost", "n/a", "null", "none"})
MAX_VALUE_CHARS = 2048


def _values(raw: Any) -> Iterable[str]:
    items = raw if isinstance(raw, list) else [raw]
    for item in items:
        if isinstance(item, str | int | float) and not isinstance(item, bool):
            text = str(item).strip()
            if text and text.lower() not in _NOTHING and len(text) <= MAX_VALUE_CHARS:
                yield text


def _normalise(kind: str, value: str) -> str | None:
    if kind == "ip":
        try:
            return str(ipaddress.ip_address(value.removeprefix("::ffff:")))
        except ValueError:
            return None
    if kind == "hash":
        lowered = value.lower()
        return lowered if _HASH.fullmatch(lowered) else None
    if kind in ("host", "domain"):
        return value.lower().rstrip(".")
    return value


def from_document(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(type, value) pairs of one alert block or event, in FIELDS order, each once."""
    found: dict[tuple[str, str], None] = {}
    for kind, path in FIELDS:
        for value in _values(get_path(doc, path)):
            normal = _normalise(kind, value)
            if normal:
                found[(kind, normal)] = None
    for value in _values(get_path(doc, "winlog.event_data.Hashes")):
        for digest in _SYSMON_HASH.findall(value):
            found[("hash", digest.lower())] = None
    return list(found)


def from_alert(alert: dict[str, Any]) -> list[tuple[str, str]]:
    """The alert's own blocks first (what the detector grouped on), then its event snapshot."""
    pairs = from_document({k: alert.get(k) for k in ("host", "user", "source", "destination") if alert.get(k)})
    snapshot = alert.get("event")
    if isinstance(snapshot, dict):
        pairs += from_document(snapshot)
    return list(dict.fromkeys(pairs))


def merge(current: list[dict[str, Any]], alerts: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """`current` observables with those of `alerts` added (each alert id once per observable)."""
    by_key: dict[tuple[str, str], dict[str, Any]] = {
        (o["type"], o["value"]): {**o, "alert_ids": list(o.get("alert_ids", []))} for o in current
    }
    for alert in alerts:
        for kind, value in from_alert(alert):
            entry = by_key.setdefault((kind, value), {"type": kind, "value": value, "alert_ids": []})
            if alert["id"] not in entry["alert_ids"]:
                entry["alert_ids"].append(alert["id"])
    return list(by_key.values())
