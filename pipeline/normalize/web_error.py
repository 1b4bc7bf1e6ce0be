"""nginx and Apache error logs. Their time stamps carry no zone: they are read in the source's zone.

Logsource: SigmaHQ's few error-log rules say `service: apache` (keywords on the message), so the
error logs get {product, service} and not the `webserver` category, whose rules expect access
fields.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from typing import Any, ClassVar

from canhgac.core.envelope import RawEnvelope
from canhgac.core.errors import ParseError
from canhgac.core.event import Event
from canhgac.pipeline.normalize.base import parsers
from canhgac.pipeline.normalize.fieldvalues import add_related, int_or_none, ip_or_none, put_endpoint
from canhgac.pipeline.normalize.syslog import (
    SyslogMessage,
    SyslogParser,
    base_event,
    message_text,
    program_key,
)
from canhgac.pipeline.normalize.syslog_extensions import body_formats
from canhgac.pipeline.normalize.timestamps import DEFAULT_TZ_NAME, MONTHS, to_utc_iso, zone
from canhgac.pipeline.normalize.web_access import set_request

_APACHE_PROGRAMS = ("httpd", "apache", "apache2")
_NGINX_RE = re.compile(
    r"(\d{4})/(\d{2})/(\d{2}) (\d{2}):(\d{2}):(\d{2}) \[(\w+)\] (\d+)#(\d+): (?:\*(\d+) )?(.*)\Z", re.DOTALL
)
_NGINX_CTX_RE = re.compile(r', (client|server|request|upstream|host|referrer): ("(?:[^"\\]|\\.)*"|[^,]*)')
_APACHE_RE = re.compile(
    r"\[\w{3} (\w{3}) (\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))? (\d{4})\] \[(?:([\w-]+):)?(\w+)\]"
    r"(?: \[pid (\d+)(?::tid (\d+))?\])?(?: \[client ([^\]]+)\])? (?:(AH\d{5}): )?(.*)\Z",
    re.DOTALL,
)


def _local(tz: tzinfo, y: int, mo: int, d: int, hh: int, mi: int, ss: int, micro: int = 0) -> datetime:
    try:
        return datetime(y, mo, d, hh, mi, ss, micro, tzinfo=tz)
    except ValueError as exc:
        raise ParseError(f"impossible date/time {y}-{mo}-{d} {hh}:{mi}:{ss}") from exc


def _finish(event: Event, product: str, level: str, pid: str | None, tid: str | None) -> None:
    event.setdefault("log", {})["level"] = level.lower()
    ev = event["event"]
    ev["category"] = ["web"]
    ev["type"] = ["error"] if level.lower() in ("error", "crit", "alert", "emerg") else ["info"]
    process: dict[str, Any] = event.setdefault("process", {})
    if (p := int_or_none(pid)) is not None:
        process["pid"] = p
    if (t := int_or_none(tid)) is not None:
        process["thread"] = {"id": t}
    if not process:
        del event["process"]
    event["canhgac"]["dataset"] = f"{product}.error"
    event["canhgac"]["logsource"] = {"product": product, "service": product}


def apply_nginx_error(event: Event, text: str, tz: tzinfo) -> None:
    m = _NGINX_RE.match(text)
    if m is None:
        raise ParseError("not an nginx error log line ('YYYY/MM/DD HH:MM:SS [level] pid#tid: …')")
    y, mo, d, hh, mi, ss, level, pid, tid, conn, body = m.groups()
    ts = _local(tz, int(y), int(mo), int(d), int(hh), int(mi), int(ss))
    event["@timestamp"] = to_utc_iso(ts)
    ctx = {k: v[1:-1] if v.startswith('"') else v for k, v in _NGINX_CTX_RE.findall(body)}
    cut = body.find(", client: ")
    event["message"] = body[:cut] if cut >= 0 else body
    if "client" in ctx:
        put_endpoint(event, "source", ctx["client"])
        add_related(event, "ip", ip_or_none(ctx["client"]))
    nginx: dict[str, Any] = {}
    if "server" in ctx:  # the server block's name: "_", "0.0.0.0:443" … not always a domain
        nginx["server"] = ctx["server"]
    if "request" in ctx:
        parts = ctx["request"].split(" ")
        if len(parts) == 3:
            set_request(event, *parts)
    if "host" in ctx:
        event.setdefault("url", {})["domain"] = ctx["host"]
    if "upstream" in ctx:
        nginx["upstream"] = ctx["upstream"]
    if conn:
        nginx["connection_id"] = int(conn)
    if nginx:
        event["nginx"] = {"error": nginx}
    _finish(event, "nginx", level, pid, tid)


def apply_apache_error(event: Event, text: str, tz: tzinfo) -> None:
    m = _APACHE_RE.match(text)
    if m is None:
        raise ParseError("not an Apache error log line ('[Day Mon DD HH:MM:SS YYYY] [module:level] …')")
    mon, d, hh, mi, ss, frac, y, module, level, pid, tid, client, code, body = m.groups()
    month = MONTHS.get(mon)
    if month is None:
        raise ParseError(f"bad month {mon!r}")
    micro = int(frac.ljust(6, "0")) if frac else 0
    ts = _local(tz, int(y), month, int(d), int(hh), int(mi), int(ss), micro)
    event["@timestamp"] = to_utc_iso(ts)
    event["message"] = body
    if client:
        address, port = client, None
        if ip_or_none(client) is None:
            host, _, maybe_port = client.rpartition(":")
            if host and maybe_port.isdigit():
                address, port = host, maybe_port
        put_endpoint(event, "source", address, port)
        add_related(event, "ip", ip_or_none(address))
    if code:
        event["error"] = {"code": code}
    if module:
        event["apache"] = {"error": {"module": module}}
    _finish(event, "apache", level, pid, tid)


class ErrorBody:
    """An error line sent over syslog by nginx (`error_log syslog:…`) or Apache (piped to logger)."""

    name: ClassVar[str] = "web-error"

    def detect(self, msg: SyslogMessage) -> bool:
        program = program_key(msg.app_name)
        head = msg.message[:1]
        if program == "nginx":
            return head.isdigit()
        return program in _APACHE_PROGRAMS and head == "["

    def apply(self, event: Event, msg: SyslogMessage) -> None:
        # The body's wall-clock time is in the sender's zone, which the header's time already has.
        tz = msg.timestamp.tzinfo if msg.timestamp is not None and msg.timestamp.tzinfo else zone(DEFAULT_TZ_NAME)
        if program_key(msg.app_name) == "nginx":
            apply_nginx_error(event, msg.message, tz)
        else:
            apply_apache_error(event, msg.message, tz)


body_formats.register("web-error")(ErrorBody())


class _ErrorParser:
    name: ClassVar[str]
    product: ClassVar[str]

    def __init__(self, default_tz: str = DEFAULT_TZ_NAME) -> None:
        self.tz = zone(default_tz)
        self._syslog = SyslogParser(default_tz)

    def _apply(self, event: Event, text: str) -> None:
        raise NotImplementedError

    def parse(self, raw: RawEnvelope) -> Event:
        text = message_text(raw)
        if text.startswith("<"):
            msg = self._syslog.header(raw, text)
            event = base_event(msg)
            self._apply(event, msg.message)
            return event
        event = {"message": text, "event": {"kind": "event"}, "canhgac": {}}
        self._apply(event, text)
        return event


@parsers.register("nginx-error")
class NginxErrorParser(_ErrorParser):
    name: ClassVar[str] = "nginx-error"
    product: ClassVar[str] = "nginx"

    def _apply(self, event: Event, text: str) -> None:
        apply_nginx_error(event, text, self.tz)


@parsers.register("apache-error")
class ApacheErrorParser(_ErrorParser):
    name: ClassVar[str] = "apache-error"
    product: ClassVar[str] = "apache"

    def _apply(self, event: Event, text: str) -> None:
        apply_apache_error(event, text, self.tz)
