"""Documents that log shippers send to the `_bulk` endpoint: the log line they carry and what the
shipper knew about it (time, host, program, facility, severity), one reader per shipper layout.

The `_bulk` endpoint puts each document in the envelope's `payload`. The `syslog` and `json`
parsers read it here, so a source keeps its declared format whatever ships its logs:
- the line is parsed by the parser the document names (a Filebeat module's `event.dataset`,
  NXLog's or Winlogbeat's Windows fields), else by the caller's (syslog: a whole line with its
  own header, or the shipper's syslog fields around a bare message);
- the event time is the line's own when it has one, else the shipper's (never the arrival time
  when the document says better);
- a Beat's ECS field sets (agent, host, log.file, …) are kept where the parse left them empty.

Layouts (each from its shipper's documentation of the default output), in the order tried:
Winlogbeat/NXLog Windows records, Beats (ECS), Vector, Fluent Bit, rsyslog omelasticsearch's
StdJSONFmt, syslog-ng's elasticsearch-http() format-json, NXLog `parse_syslog(); to_json()`,
then any JSON with a message.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from typing import Any

from canhgac.core.envelope import RawEnvelope
from canhgac.core.event import Event
from canhgac.pipeline.normalize.base import Parser, parsers
from canhgac.pipeline.normalize.syslog import FACILITY_NAMES, SyslogMessage
from canhgac.pipeline.normalize.timestamps import parse_rfc3339, to_utc_iso

# ECS field sets a shipper's document may carry at its top level (json_record keeps the same).
ECS_FIELD_SETS = frozenset(
    {"agent", "as", "client", "cloud", "container", "data_stream", "destination", "device", "dll", "dns",
     "ecs", "email", "error", "event", "faas", "file", "group", "host", "http", "log", "network",
     "observer", "orchestrator", "organization", "package", "process", "registry", "related", "rule",
     "server", "service", "source", "threat", "tls", "trace", "transaction", "span", "url", "user",
     "user_agent", "vulnerability", "winlog", "labels", "tags", "message"}
)  # fmt: skip

# Filebeat / Elastic Agent module datasets → the parser that reads their `message`.
MODULE_DATASETS: dict[str, str] = {
    "system.auth": "linux-auth", "system.syslog": "syslog", "auditd.log": "auditd",
    "nginx.access": "nginx-access", "nginx.error": "nginx-error",
    "apache.access": "apache-access", "apache.error": "apache-error",
    "fortinet.firewall": "fortigate", "cisco.asa": "cisco-asa", "cisco.ftd": "cisco-asa",
    "cef.log": "cef", "pfsense.log": "pfsense",
}  # fmt: skip
# Parsers that read the whole document (its `payload`) rather than a line of text.
_DOCUMENT_FORMATS = frozenset({"winlogbeat", "nxlog-json"})

_FACILITY_CODES = {name: code for code, name in enumerate(FACILITY_NAMES)} | {"authpriv": 10, "security": 4}
_SEVERITY_CODES = {
    "emerg": 0, "emergency": 0, "panic": 0, "alert": 1, "crit": 2, "critical": 2, "err": 3, "error": 3,
    "warning": 4, "warn": 4, "notice": 5, "info": 6, "informational": 6, "debug": 7,
}  # fmt: skip
_BEATS = frozenset({"filebeat", "auditbeat", "packetbeat", "heartbeat", "metricbeat", "winlogbeat", "elastic-agent"})


@dataclass(slots=True)
class Shipped:
    shipper: str
    text: str | None = None
    time: datetime | None = None
    host: str | None = None
    program: str | None = None
    pid: str | None = None
    facility: int | None = None
    severity: int | None = None
    priority: int | None = None
    inner_format: str | None = None  # the parser the document names for its line (or itself)
    keep: dict[str, Any] = field(default_factory=dict)  # the shipper's ECS field sets
    rest: dict[str, Any] = field(default_factory=dict)  # other keys, kept under `json.*`

    def syslog_message(self, tz: tzinfo) -> SyslogMessage:
        """A syslog message from the shipper's fields around a bare message text."""
        facility, severity = self.facility, self.severity
        priority = self.priority
        if priority is not None:
            facility, severity = priority >> 3, priority & 7
        elif facility is not None and severity is not None:
            priority = facility * 8 + severity
        known = any(v is not None for v in (self.host, self.program, facility))
        return SyslogMessage(
            facility=facility if priority is not None else None,
            severity=severity if priority is not None else None,
            priority=priority,
            timestamp=self.time,
            hostname=self.host,
            app_name=self.program,
            procid=self.pid,
            message=(self.text or "").lstrip(" "),
            rfc="3164" if known else "none",
            tz=tz,
        )


# ---- value helpers ----------------------------------------------------------------------------------


def _rest(doc: dict[str, Any], used: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in used}


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value and value != "-":
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _time(value: Any, tz: tzinfo) -> datetime | None:
    """ISO 8601 / RFC 3339 text (a local time without zone is read in `tz`) or epoch seconds/ms."""
    if isinstance(value, str) and 8 <= len(value) < 64:
        return parse_rfc3339(value.strip(), tz)
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        seconds = value / 1000 if value > 10**11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _first_time(doc: dict[str, Any], keys: tuple[str, ...], tz: tzinfo) -> datetime | None:
    for key in keys:
        ts = _time(doc.get(key), tz)
        if ts is not None:
            return ts
    return None


def _facility(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value < len(FACILITY_NAMES) else None
    if isinstance(value, str):
        name = value.strip().lower()
        return int(name) if name.isdigit() and int(name) < len(FACILITY_NAMES) else _FACILITY_CODES.get(name)
    return None


def _severity(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value <= 7 else None
    if isinstance(value, str):
        name = value.strip().lower()
        return int(name) if name.isdigit() and int(name) <= 7 else _SEVERITY_CODES.get(name)
    return None


def _priority(value: Any) -> int | None:
    text = _text(value)
    return int(text) if text is not None and text.isdigit() and int(text) <= 191 else None


# ---- one reader per layout --------------------------------------------------------------------------

Reader = Callable[[dict[str, Any], tzinfo], "Shipped | None"]


def _windows(doc: dict[str, Any], tz: tzinfo) -> Shipped | None:
    if isinstance(doc.get("winlog"), dict):
        return Shipped("winlogbeat", inner_format="winlogbeat")
    if "EventID" in doc and "Channel" in doc:
        return Shipped("nxlog", inner_format="nxlog-json")
    return None


def _beats(doc: dict[str, Any], tz: tzinfo) -> Shipped | None:
    agent = doc.get("agent")
    is_beat = isinstance(agent, dict) and agent.get("type") in _BEATS
    if not is_beat and not ("ecs" in doc and "@timestamp" in doc):
        return None
    event = doc.get("event") if isinstance(doc.get("event"), dict) else {}
    dataset = event.get("dataset") if isinstance(event, dict) else None
    host = doc.get("host")
    return Shipped(
        "beats",
        text=_text(doc.get("message")),
        time=_time(doc.get("@timestamp"), tz),
        host=_text(host.get("name")) if isinstance(host, dict) else None,
        inner_format=MODULE_DATASETS.get(dataset) if isinstance(dataset, str) else None,
        keep={k: v for k, v in doc.items() if k in ECS_FIELD_SETS and k != "message"},
    )


_VECTOR_KEYS = frozenset(
    {"message", "timestamp", "@timestamp", "hostname", "host", "appname", "procid", "facility", "severity", "file"}
)
_FLUENT_BIT_KEYS = frozenset({"log", "message", "@timestamp", "time", "host", "ident", "pid", "pri"})
_RSYSLOG_KEYS = frozenset(
    {"message", "timereported", "timegenerated", "@timestamp", "fromhost", "programname", "app-name", "facility",
     "priority"}
)  # fmt: skip
_SYSLOG_NG_KEYS = frozenset(
    {"MESSAGE", "ISODATE", "@timestamp", "R_ISODATE", "S_ISODATE", "HOST", "PROGRAM", "PID", "FACILITY", "PRIORITY",
     "LEVEL"}
)  # fmt: skip
_NXLOG_KEYS = frozenset(
    {"Message", "raw_event", "EventTime", "EventReceivedTime", "Hostname", "SourceName", "ProcessID",
     "SyslogFacilityValue", "SyslogFacility", "SyslogSeverityValue", "SyslogSeverity"}
)  # fmt: skip


def _vector(doc: dict[str, Any], tz: tzinfo) -> Shipped | None:
    if not isinstance(doc.get("source_type"), str):
        return None
    path = _text(doc.get("file"))
    return Shipped(
        "vector",
        text=_text(doc.get("message")),
        time=_first_time(doc, ("timestamp", "@timestamp"), tz),
        host=_text(doc.get("hostname")) or _text(doc.get("host")),
        program=_text(doc.get("appname")),
        pid=_text(doc.get("procid")),
        facility=_facility(doc.get("facility")),
        severity=_severity(doc.get("severity")),
        keep={"log": {"file": {"path": path}}} if path else {},
        rest=_rest(doc, _VECTOR_KEYS),
    )


def _fluent_bit(doc: dict[str, Any], tz: tzinfo) -> Shipped | None:
    # The es output always adds its Time_Key (`@timestamp`); without it `log` is some other
    # JSON record (Docker's json-file writes {"log", "stream", "time"}).
    if "@timestamp" not in doc:
        return None
    if isinstance(doc.get("log"), str):  # tail input: the line under `log`
        time = _first_time(doc, ("@timestamp", "time"), tz)
        return Shipped("fluent-bit", text=doc["log"], time=time, rest=_rest(doc, _FLUENT_BIT_KEYS))
    if "ident" not in doc and "pri" not in doc:
        return None
    return Shipped(  # the syslog-rfc3164 / syslog-rfc5424 parsers' fields
        "fluent-bit",
        text=_text(doc.get("message")),
        time=_first_time(doc, ("@timestamp", "time"), tz),
        host=_text(doc.get("host")),
        program=_text(doc.get("ident")),
        pid=_text(doc.get("pid")),
        priority=_priority(doc.get("pri")),
        rest=_rest(doc, _FLUENT_BIT_KEYS),
    )


def _rsyslog(doc: dict[str, Any], tz: tzinfo) -> Shipped | None:
    if "timereported" not in doc and "fromhost" not in doc:
        return None
    return Shipped(
        "rsyslog",
        text=_text(doc.get("message")),
        time=_first_time(doc, ("timereported", "timegenerated", "@timestamp"), tz),
        host=_text(doc.get("fromhost")),
        program=_text(doc.get("programname")) or _text(doc.get("app-name")),
        facility=_facility(doc.get("facility")),
        severity=_severity(doc.get("priority")),
        rest=_rest(doc, _RSYSLOG_KEYS),
    )


def _syslog_ng(doc: dict[str, Any], tz: tzinfo) -> Shipped | None:
    if "MESSAGE" not in doc and "PROGRAM" not in doc:
        return None
    return Shipped(
        "syslog-ng",
        text=_text(doc.get("MESSAGE")),
        time=_first_time(doc, ("ISODATE", "@timestamp", "R_ISODATE", "S_ISODATE"), tz),
        host=_text(doc.get("HOST")),
        program=_text(doc.get("PROGRAM")),
        pid=_text(doc.get("PID")),
        facility=_facility(doc.get("FACILITY")),
        severity=_severity(doc.get("PRIORITY") or doc.get("LEVEL")),
        rest=_rest(doc, _SYSLOG_NG_KEYS),
    )


def _nxlog(doc: dict[str, Any], tz: tzinfo) -> Shipped | None:
    if "SourceModuleType" not in doc and "EventReceivedTime" not in doc:
        return None
    return Shipped(
        "nxlog",
        text=_text(doc.get("Message")) or _text(doc.get("raw_event")),
        time=_first_time(doc, ("EventTime", "EventReceivedTime"), tz),
        host=_text(doc.get("Hostname")),
        program=_text(doc.get("SourceName")),
        pid=_text(doc.get("ProcessID")),
        facility=_facility(doc.get("SyslogFacilityValue", doc.get("SyslogFacility"))),
        severity=_severity(doc.get("SyslogSeverityValue", doc.get("SyslogSeverity"))),
        rest=_rest(doc, _NXLOG_KEYS),
    )


def _generic(doc: dict[str, Any], tz: tzinfo) -> Shipped:
    text = next((doc[k] for k in ("message", "msg", "Message", "log") if isinstance(doc.get(k), str)), None)
    return Shipped(
        "json", text=text, time=_first_time(doc, ("@timestamp", "timestamp", "time", "ts", "datetime", "date"), tz)
    )


# The order matters: Windows records first (they have message-like fields too), then the layouts
# that name themselves (agent.type, source_type), then the ones recognised by their keys.
READERS: tuple[Reader, ...] = (_windows, _beats, _vector, _fluent_bit, _rsyslog, _syslog_ng, _nxlog)
# Shippers whose documents carry syslog data by construction: read as syslog whatever the
# source's declared format (the `_bulk` endpoint marks a `syslog` source's plain JSON `json`).
SYSLOG_SHIPPERS = frozenset({"vector", "fluent-bit", "rsyslog", "syslog-ng", "nxlog"})


def read_document(doc: dict[str, Any], tz: tzinfo) -> Shipped:
    for reader in READERS:
        found = reader(doc, tz)
        if found is not None:
            return found
    return _generic(doc, tz)


# ---- parsing the line the document names ------------------------------------------------------------

_INNER: dict[tuple[str, str], Parser] = {}


def parser_for(fmt: str, tz_name: str) -> Parser:
    """One parser instance per (format, zone), as the normalizer keeps them."""
    key = (fmt, tz_name)
    parser = _INNER.get(key)
    if parser is None:
        factory: Callable[..., Parser] = parsers.get(fmt)
        accepts_tz = "default_tz" in inspect.signature(factory).parameters
        parser = factory(default_tz=tz_name) if accepts_tz else factory()
        if len(_INNER) < 256:
            _INNER[key] = parser
    return parser


def parse_inner(raw: RawEnvelope, shipped: Shipped, tz_name: str) -> Event:
    """The event of the parser the document names: the whole document for Windows records, else its
    line; year inference uses the shipper's time (a Beat's read time) rather than the arrival."""
    fmt = shipped.inner_format
    assert fmt is not None
    if fmt in _DOCUMENT_FORMATS:
        inner = replace(raw, format=fmt)
    else:
        received = to_utc_iso(shipped.time) if shipped.time is not None else raw.received_at
        inner = replace(raw, format=fmt, message=shipped.text, payload=None, received_at=received)
    event = parser_for(fmt, tz_name).parse(inner)
    finish(event, shipped)
    return event


def _merge(target: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        present = target.get(key)
        if present is None:
            target[key] = value
        elif isinstance(present, dict) and isinstance(value, dict):
            _merge(present, value)


def finish(event: Event, shipped: Shipped) -> None:
    """Time and host from the shipper where the line had none; the Beat's ECS sets where empty."""
    if "@timestamp" not in event and shipped.time is not None:
        event["@timestamp"] = to_utc_iso(shipped.time)
    if shipped.host and not event.get("host"):
        event["host"] = {"name": shipped.host}
    if shipped.keep:
        _merge(event, shipped.keep)
    if shipped.rest:
        json_node = event.get("json")
        if isinstance(json_node, dict):
            _merge(json_node, shipped.rest)
        else:
            event["json"] = dict(shipped.rest)
