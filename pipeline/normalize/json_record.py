"""Generic JSON: one object per record, from `raw.payload` or a JSON text `raw.message`.

A record that is already ECS-shaped (Elastic Agent, Filebeat, Vector's ECS codec: an `@timestamp`
or `ecs` key plus ECS field sets) keeps its ECS field sets at the top; everything else goes under
`json.*`, so an application's own keys can never overwrite ECS fields with wrong types. `canhgac.*`
is ours: a sender's own `canhgac` key is moved under `json`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson
from canhgac.core.envelope import RawEnvelope
from canhgac.core.errors import ParseError
from canhgac.core.event import Event
from canhgac.pipeline.normalize import shipped
from canhgac.pipeline.normalize.base import parsers
from canhgac.pipeline.normalize.fieldvalues import ip_or_none
from canhgac.pipeline.normalize.shipped import ECS_FIELD_SETS
from canhgac.pipeline.normalize.syslog import SyslogParser
from canhgac.pipeline.normalize.timestamps import DEFAULT_TZ_NAME, parse_rfc3339, to_utc_iso, zone

DATASET = "json"
_IP_FIELDS = ("source", "destination", "client", "server", "host", "observer")
_SHAPE_HINTS = frozenset({"event", "host", "source", "destination", "user", "process", "url", "http"})
_TIME_KEYS = ("@timestamp", "timestamp", "time", "ts", "datetime", "date", "EventTime", "eventTime")
_MESSAGE_KEYS = ("message", "msg", "Message", "log")
_MAX_DEPTH = 32


def load_object(raw: RawEnvelope) -> dict[str, Any]:
    if raw.payload is not None:
        if not isinstance(raw.payload, dict):
            raise ParseError("JSON payload is not an object")
        return raw.payload
    if raw.message is None or not raw.message.strip():
        raise ParseError("empty record")
    try:
        data = orjson.loads(raw.message)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ParseError(f"JSON record is a {type(data).__name__}, not an object")
    return data


def parse_time(value: Any, default_tz: Any) -> datetime | None:
    """ISO/RFC 3339 text or epoch seconds/milliseconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 10**11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and len(value) < 64:
        return parse_rfc3339(value.strip(), default_tz)
    return None


def _expand_dotted(data: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """{"source.ip": x} -> {"source": {"ip": x}} (ECS allows both; we store one)."""
    if depth > _MAX_DEPTH:
        raise ParseError("JSON nested too deeply")
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            value = _expand_dotted(value, depth + 1)
        parts = key.split(".") if "." in key and not key.startswith(".") and not key.endswith(".") else [key]
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        last = parts[-1]
        if isinstance(node.get(last), dict) and isinstance(value, dict):
            node[last].update(value)
        else:
            node[last] = value
    return out


def is_ecs_shaped(data: dict[str, Any]) -> bool:
    if "ecs" in data or "ecs.version" in data:
        return True
    if "@timestamp" not in data:
        return False
    for key, value in data.items():
        field_set = key.split(".", 1)[0]
        if field_set in _SHAPE_HINTS and (isinstance(value, dict) or "." in key):
            return True
    return False


def _check_ips(event: Event, misfits: dict[str, Any]) -> None:
    for side in _IP_FIELDS:
        node = event.get(side)
        if isinstance(node, dict) and "ip" in node:
            value = node["ip"]
            if side == "host" and isinstance(value, list):
                good = [v for v in value if isinstance(v, str) and ip_or_none(v)]
                if len(good) != len(value):
                    misfits[f"{side}.ip"] = node.pop("ip")
                continue
            if not isinstance(value, str) or ip_or_none(value) is None:
                misfits[f"{side}.ip"] = node.pop("ip")
            if not node:
                del event[side]


def _set_time(event: Event, data: dict[str, Any], tz: Any) -> None:
    for key in _TIME_KEYS:
        if key in data:
            ts = parse_time(data[key], tz)
            if ts is not None:
                event["@timestamp"] = to_utc_iso(ts)
                return


def json_event(data: dict[str, Any], tz: Any) -> Event:
    if is_ecs_shaped(data):
        expanded = _expand_dotted(data)
        event: Event = {}
        other: dict[str, Any] = {}
        for key, value in expanded.items():
            if key != "@timestamp":
                (event if key in ECS_FIELD_SETS else other)[key] = value
        for key in ("event", "log", "error"):
            if key in event and not isinstance(event[key], dict):
                other[key] = event.pop(key)
        misfits: dict[str, Any] = {}
        _check_ips(event, misfits)
        if misfits:
            other["_invalid"] = misfits
        if other:
            event["json"] = other
        _set_time(event, data, tz)
        ev = event.setdefault("event", {})
        ev.setdefault("kind", "event")
        if "message" in event and not isinstance(event["message"], str):
            other_msg = event.pop("message")
            event.setdefault("json", {})["message"] = other_msg
    else:
        event = {"json": data, "event": {"kind": "event"}}
        _set_time(event, data, tz)
        for key in _MESSAGE_KEYS:
            if isinstance(data.get(key), str):
                event["message"] = data[key]
                break
    event["canhgac"] = {"dataset": DATASET, "logsource": ecs_logsource(event)}
    return event


# observer.type → Sigma's generic log source (ECS names the kind of device that saw the event).
OBSERVER_CATEGORIES = {"firewall": "firewall", "proxy": "proxy", "web-proxy": "proxy", "antivirus": "antivirus"}


def ecs_logsource(event: Event) -> dict[str, str]:
    """Sigma's generic category of an ECS document, so generic rules (firewall, proxy, dns,
    antivirus, webserver) meet it: the observer's type, else what the event carries."""
    observer = event.get("observer")
    kind = observer.get("type") if isinstance(observer, dict) else None
    if isinstance(kind, str) and kind.lower() in OBSERVER_CATEGORIES:
        return {"category": OBSERVER_CATEGORIES[kind.lower()]}
    dns = event.get("dns")
    if isinstance(dns, dict) and isinstance(dns.get("question"), dict) and dns["question"].get("name"):
        return {"category": "dns"}
    node = event.get("event")
    categories = node.get("category") if isinstance(node, dict) else None
    if isinstance(categories, str):
        categories = [categories]
    if isinstance(categories, list):
        if "malware" in categories:
            return {"category": "antivirus"}
        if "web" in categories and isinstance(event.get("http"), dict) and isinstance(event.get("url"), dict):
            return {"category": "webserver"}
    return {}


@parsers.register("json")
class JsonParser:
    name: ClassVar[str] = "json"

    def __init__(self, default_tz: str = DEFAULT_TZ_NAME) -> None:
        self.tz = zone(default_tz)
        self.tz_name = default_tz

    def parse(self, raw: RawEnvelope) -> Event:
        data = load_object(raw)
        found = shipped.read_document(data, self.tz)
        if found.inner_format is not None:  # a Filebeat module's line, a Windows record
            return shipped.parse_inner(raw, found, self.tz_name)
        if found.shipper in shipped.SYSLOG_SHIPPERS and found.text is not None and found.text.strip():
            syslog_parser = shipped.parser_for("syslog", self.tz_name)
            assert isinstance(syslog_parser, SyslogParser)
            return syslog_parser.parse_document(raw, data)
        event = json_event(data, self.tz)
        if found.shipper != "json" and found.text is not None and found.text.strip():
            event["message"] = found.text.lstrip(" ")  # syslog-ng's MESSAGE, rsyslog's " msg"
        if "@timestamp" not in event and found.time is not None:
            event["@timestamp"] = to_utc_iso(found.time)  # rsyslog's timereported, Vector's timestamp
        if found.host and "host" not in event:
            event["host"] = {"name": found.host}
        return event
