"""nginx and Apache access logs: the common and combined formats (and Apache's vhost_combined),
from files or sent over syslog (`access_log syslog:server=…`, `CustomLog "|/usr/bin/logger …"`).

The ECS fields set here are exactly the ones the rule engine maps Sigma's webserver fields to
(cs-uri-query -> url.query, cs-uri-stem -> url.path, c-ip -> source.ip, …); url.query carries no
leading '?'. Anything after the user agent (request time, X-Forwarded-For …) is kept in
`web.access.extra` rather than guessed at.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, ClassVar

from canhgac.core.envelope import RawEnvelope
from canhgac.core.errors import ParseError
from canhgac.core.event import Event
from canhgac.pipeline.normalize.base import parsers
from canhgac.pipeline.normalize.fieldvalues import add_related, int_or_none, put_endpoint
from canhgac.pipeline.normalize.syslog import (
    SyslogMessage,
    SyslogParser,
    base_event,
    message_text,
    program_key,
)
from canhgac.pipeline.normalize.syslog_extensions import body_formats
from canhgac.pipeline.normalize.timestamps import MONTHS, to_utc_iso

_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_ACCESS_RE = re.compile(
    r"(?:(\S+) )?(\S+) (\S+) (\S+) \[(\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "
    + _QUOTED
    + r" (\d{3}|-) (\d+|-)(?: "
    + _QUOTED
    + " "
    + _QUOTED
    + r")?(?: (.*))?\Z"
)
_METHOD_RE = re.compile(r"[A-Z][A-Z_-]{0,31}\Z")
_PROGRAMS = {"nginx": "nginx", "httpd": "apache", "apache": "apache", "apache2": "apache"}


@lru_cache(maxsize=64)
def _offset(text: str) -> timezone:
    minutes = int(text[1:3]) * 60 + int(text[3:5])
    return timezone(timedelta(minutes=-minutes if text[0] == "-" else minutes))


def parse_clf_time(text: str) -> datetime:
    """'10/Oct/2000:13:55:36 -0700' (strptime is several times slower on this hot path)."""
    month = MONTHS.get(text[3:6])
    if month is None:
        raise ParseError(f"bad month in time {text!r}")
    try:
        return datetime(
            int(text[7:11]), month, int(text[0:2]), int(text[12:14]), int(text[15:17]), int(text[18:20]),
            tzinfo=_offset(text[21:26]),
        )  # fmt: skip
    except ValueError as exc:
        raise ParseError(f"bad time {text!r}: {exc}") from exc


def _unescape(value: str) -> str:
    return value.replace('\\"', '"').replace("\\\\", "\\") if "\\" in value else value


def set_request(event: Event, method: str | None, target: str | None, version: str | None) -> None:
    """http.request.method, url.original/path/query, http.version from a request line's parts."""
    http: dict[str, Any] = event.setdefault("http", {})
    if method:
        http.setdefault("request", {})["method"] = method
    if version:
        http["version"] = version[5:] if version.startswith("HTTP/") else version
    if target:
        url: dict[str, Any] = {"original": target}
        path, sep, query = target.partition("?")
        url["path"] = path
        if sep and query:
            url["query"] = query
        event["url"] = url


def set_status(event: Event, status: int | None) -> None:
    if status is None:
        return
    event.setdefault("http", {}).setdefault("response", {})["status_code"] = status
    event["event"]["outcome"] = "failure" if status >= 400 else "success"


def apply_access(event: Event, text: str, product: str) -> None:
    m = _ACCESS_RE.match(text)
    if m is None:
        raise ParseError(f"not a {product} access log line (common/combined format)")
    vhost, client, _ident, user, ts, request, status, size, referrer, agent, extra = m.groups()
    timestamp = parse_clf_time(ts)
    event["@timestamp"] = to_utc_iso(timestamp)
    ev = event["event"]
    ev["category"] = ["web"]
    ev["type"] = ["access"]
    put_endpoint(event, "source", client)
    add_related(event, "ip", event.get("source", {}).get("ip"))
    request = _unescape(request)
    parts = request.split(" ")
    if len(parts) >= 3 and parts[-1].startswith("HTTP/") and _METHOD_RE.match(parts[0]):
        # A target with spaces (only a broken or hostile client sends one) stays whole.
        set_request(event, parts[0], " ".join(parts[1:-1]), parts[-1])
    elif len(parts) == 2 and _METHOD_RE.match(parts[0]):  # HTTP/0.9 style or a truncated request
        set_request(event, parts[0], parts[1], None)
    elif request and request != "-":
        ev["reason"] = "malformed request line"
    set_status(event, int_or_none(status))
    body_bytes = int_or_none(size)
    if body_bytes is not None:
        event.setdefault("http", {}).setdefault("response", {})["body"] = {"bytes": body_bytes}
    if referrer and referrer != "-":
        event.setdefault("http", {}).setdefault("request", {})["referrer"] = _unescape(referrer)
    if agent and agent != "-":
        event["user_agent"] = {"original": _unescape(agent)}
    if user and user != "-":
        event["user"] = {"name": user}
        add_related(event, "user", user)
    if vhost:
        name, _, port = vhost.rpartition(":")
        event["destination"] = {"domain": name or vhost}
        if (p := int_or_none(port)) is not None and name:
            event["destination"]["port"] = p
    if extra:
        event.setdefault("web", {})["access"] = {"extra": extra}
    canhgac = event["canhgac"]
    canhgac["dataset"] = f"{product}.access"
    canhgac["logsource"] = {"category": "webserver", "product": product}


class AccessBody:
    """An access line sent over syslog by nginx or Apache (app name nginx/httpd/apache2)."""

    name: ClassVar[str] = "web-access"

    def detect(self, msg: SyslogMessage) -> bool:
        return program_key(msg.app_name) in _PROGRAMS and " [" in msg.message and '] "' in msg.message

    def apply(self, event: Event, msg: SyslogMessage) -> None:
        apply_access(event, msg.message, _PROGRAMS[program_key(msg.app_name)])


body_formats.register("web-access")(AccessBody())


class _AccessParser:
    name: ClassVar[str]
    product: ClassVar[str]

    def __init__(self, default_tz: str = "Asia/Ho_Chi_Minh") -> None:
        self._syslog = SyslogParser(default_tz)

    def parse(self, raw: RawEnvelope) -> Event:
        text = message_text(raw)
        if text.startswith("<"):  # sent over syslog: keep the header's fields too
            msg = self._syslog.header(raw, text)
            event = base_event(msg)
            apply_access(event, msg.message, self.product)
            return event
        event = {"message": text, "event": {"kind": "event"}, "canhgac": {}}
        apply_access(event, text, self.product)
        return event


@parsers.register("nginx-access")
class NginxAccessParser(_AccessParser):
    name: ClassVar[str] = "nginx-access"
    product: ClassVar[str] = "nginx"


@parsers.register("apache-access")
class ApacheAccessParser(_AccessParser):
    name: ClassVar[str] = "apache-access"
    product: ClassVar[str] = "apache"
