"""Syslog: RFC 5424 and RFC 3164 (BSD) headers, and the `syslog` parser built on them.

`parse_syslog` is pure and never raises: a line without a valid PRI is returned whole with
rfc "none". Real senders bend RFC 3164 in many ways (no hostname, a year or milliseconds in the
time stamp, Cisco's trailing colon, an ISO time stamp without the 5424 version), so the BSD path
accepts those forms instead of rejecting them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from typing import Any, ClassVar, Literal

from canhgac.core.envelope import RawEnvelope
from canhgac.core.errors import ConfigError, ParseError
from canhgac.core.event import Event
from canhgac.pipeline.normalize.base import parsers
from canhgac.pipeline.normalize.syslog_extensions import (
    BODY_FORMAT_PRECEDENCE,
    BodyFormat,
    body_formats,
    program_enrichers,
)
from canhgac.pipeline.normalize.timestamps import (
    DEFAULT_TZ_NAME,
    MONTHS,
    infer_year,
    parse_received_at,
    parse_rfc3339,
    to_utc_iso,
    zone,
)

FACILITY_NAMES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)  # fmt: skip
SEVERITY_NAMES = (
    "Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug",
)  # fmt: skip

_NIL = "-"
_BOM = "\ufeff"

# "Oct 11 22:14:15", "Oct  1 22:14:15", Cisco's "*Oct 11 2026 22:14:15.123 UTC:" and friends.
_BSD_TS_RE = re.compile(
    r"[*.]?(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {1,2}(\d{1,2})(?: (\d{4}))?"
    r" (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?: (UTC|GMT))?:?(?: +|\Z)"
)
_ISO_TS_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\S+")
# A tag: program name with optional [pid], then a colon. '%' and '=' are left out so Cisco's
# "%ASA-6-302013:" and FortiGate's "date=…" are not mistaken for programs.
_TAG_RE = re.compile(r"([\w./@()+-]{1,64}?)(?:\[([^\]\s]{0,32})\])?:(?: +|\Z)")
_HOSTNAME_RE = re.compile(r"[\w][\w.:-]{0,254}\Z")
_SD_PARAM_RE = re.compile(r' +([^\s="\]]{1,64})="((?:[^"\\]|\\.)*)"', re.DOTALL)
_SD_ID_RE = re.compile(r'\[([^\s="\]]{1,64})')
_SD_UNESCAPE_RE = re.compile(r'\\(["\\\]])')


@dataclass(slots=True)
class SyslogMessage:
    facility: int | None = None
    severity: int | None = None
    priority: int | None = None
    version: int | None = None
    timestamp: datetime | None = None
    hostname: str | None = None
    app_name: str | None = None
    procid: str | None = None
    msgid: str | None = None
    structured_data: dict[str, dict[str, str]] = field(default_factory=dict)
    message: str = ""
    rfc: Literal["5424", "3164", "none"] = "none"
    # The zone that time stamps without one were read in; body formats read theirs in it too.
    tz: tzinfo | None = None


class _Malformed(Exception):
    """A 5424 header that breaks the grammar; the caller falls back to the BSD reading."""


def _parse_pri(text: str) -> tuple[int, int] | None:
    """(priority, index after '>') or None. PRI is 1-3 digits, no leading zero, at most 191."""
    end = text.find(">", 1, 5)
    if end < 2 or text[0] != "<":
        return None
    digits = text[1:end]
    if not digits.isascii() or not digits.isdigit() or (len(digits) > 1 and digits[0] == "0"):
        return None
    pri = int(digits)
    return (pri, end + 1) if pri <= 191 else None


def _nil(value: str) -> str | None:
    return None if value == _NIL else value


def _parse_sd(text: str, pos: int) -> tuple[dict[str, dict[str, str]], int]:
    """Structured data starting at text[pos] == '['; returns it and the index after it."""
    data: dict[str, dict[str, str]] = {}
    while pos < len(text) and text[pos] == "[":
        m = _SD_ID_RE.match(text, pos)
        if m is None:
            raise _Malformed("bad SD-ID")
        params = data.setdefault(m.group(1), {})
        pos = m.end()
        while True:
            p = _SD_PARAM_RE.match(text, pos)
            if p is None:
                break
            value = p.group(2)
            params[p.group(1)] = _SD_UNESCAPE_RE.sub(r"\1", value) if "\\" in value else value
            pos = p.end()
        if pos >= len(text) or text[pos] != "]":
            raise _Malformed("unterminated SD element")
        pos += 1
    return data, pos


def _parse_5424(msg: SyslogMessage, text: str, pos: int, tz: tzinfo) -> None:
    fields: list[str] = []
    for _ in range(6):  # VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
        end = text.find(" ", pos)
        if end <= pos:
            raise _Malformed("short header")
        fields.append(text[pos:end])
        pos = end + 1
    version, ts, host, app, procid, msgid = fields
    if not version.isdigit():
        raise _Malformed("bad version")
    timestamp = None
    if ts != _NIL:
        timestamp = parse_rfc3339(ts, tz)
        if timestamp is None:
            raise _Malformed("bad timestamp")
    if text.startswith(_NIL, pos):
        sd: dict[str, dict[str, str]] = {}
        pos += 1
    elif text.startswith("[", pos):
        sd, pos = _parse_sd(text, pos)
    else:
        raise _Malformed("bad structured data")
    if pos < len(text):
        if text[pos] != " ":
            raise _Malformed("no space after structured data")
        pos += 1
    body = text[pos:]
    msg.version = int(version)
    msg.timestamp = timestamp
    msg.hostname, msg.app_name, msg.procid, msg.msgid = _nil(host), _nil(app), _nil(procid), _nil(msgid)
    msg.structured_data = sd
    # rsyslog's RFC 5424 templates write `%msg%`, which keeps the space that followed the RFC 3164
    # tag ("sshd[1]: Failed" -> "… sshd 1 - -  Failed"); the BSD reading drops it, so does this one.
    msg.message = (body[1:] if body.startswith(_BOM) else body).lstrip(" ")
    msg.rfc = "5424"


def _parse_tag(msg: SyslogMessage, text: str) -> None:
    m = _TAG_RE.match(text)
    if m is None:
        msg.message = text
        return
    msg.app_name = m.group(1)
    msg.procid = m.group(2) or None
    msg.message = text[m.end() :]


def _parse_bsd(msg: SyslogMessage, text: str, pos: int, tz: tzinfo, reference: datetime | None) -> bool:
    """The BSD reading of text[pos:]; False when there is no time stamp (the caller decides)."""
    timestamp: datetime | None = None
    m = _BSD_TS_RE.match(text, pos)
    if m is not None:
        month, day, year, hh, mm, ss, frac, utc = m.groups()
        micro = int(frac.ljust(6, "0")) if frac else 0
        ts_tz = UTC if utc else tz
        try:
            if year:
                timestamp = datetime(int(year), MONTHS[month], int(day), int(hh), int(mm), int(ss), micro, tzinfo=ts_tz)
            else:
                ref = reference if reference is not None else datetime.now(UTC)
                timestamp = infer_year(MONTHS[month], int(day), int(hh), int(mm), int(ss), micro, ts_tz, ref)
        except ValueError:  # "Feb 31", "25:00:00": a time stamp only in shape
            timestamp = None
        pos = m.end()
    else:
        iso = _ISO_TS_RE.match(text, pos)
        if iso is not None:
            timestamp = parse_rfc3339(iso.group(0), tz)
            if timestamp is not None:
                pos = iso.end() + 1 if iso.end() < len(text) else iso.end()
    msg.rfc = "3164"
    msg.timestamp = timestamp
    if m is None and timestamp is None:
        _parse_tag(msg, text[pos:])
        return False
    rest = text[pos:]
    # After the time stamp comes HOSTNAME, unless the sender left it out and the tag follows.
    space = rest.find(" ")
    first = rest if space < 0 else rest[:space]
    if first and not first.endswith(":") and _HOSTNAME_RE.match(first):
        msg.hostname = first
        rest = "" if space < 0 else rest[space + 1 :].lstrip(" ")
        if rest.startswith(": "):  # Cisco ASA: "asa01 : %ASA-6-…"
            rest = rest[2:]
    _parse_tag(msg, rest)
    return True


def parse_syslog(
    text: str,
    *,
    default_tz: tzinfo | None = None,
    reference: datetime | None = None,
    allow_missing_pri: bool = False,
) -> SyslogMessage:
    """Parse one syslog line. Time stamps without a zone are read in `default_tz` (Vietnam if not
    given); a BSD time stamp without a year takes the latest year that does not put it more than
    a week after `reference` (now if not given). With `allow_missing_pri`, a line from a log file
    ("Nov 26 07:00:01 host sshd[1]: …") keeps its header too; without it that line is rfc "none"."""
    tz = default_tz if default_tz is not None else zone(DEFAULT_TZ_NAME)
    text = text.rstrip("\r\n\x00")
    msg = SyslogMessage(tz=tz)
    pri = _parse_pri(text)
    if pri is None:
        if allow_missing_pri:
            probe = SyslogMessage(tz=tz)
            if _parse_bsd(probe, text, 0, tz, reference):
                return probe
        msg.message = text
        return msg
    priority, pos = pri
    msg.priority, msg.facility, msg.severity = priority, priority >> 3, priority & 7
    if text[pos : pos + 1].isdigit() and text[pos : pos + 1] != "0":
        try:
            _parse_5424(msg, text, pos, tz)
            return msg
        except _Malformed:
            pass
    _parse_bsd(msg, text, pos, tz, reference)
    return msg


# Which Sigma logsource service a program's messages belong to (SigmaHQ's linux rules use these).
PROGRAM_SERVICES = {
    "sshd": "sshd", "sudo": "sudo", "cron": "cron", "crond": "cron", "anacron": "cron",
    "su": "auth", "login": "auth", "passwd": "auth", "chpasswd": "auth", "chage": "auth",
    "useradd": "auth", "usermod": "auth", "userdel": "auth", "groupadd": "auth", "groupmod": "auth",
    "groupdel": "auth", "gpasswd": "auth", "systemd-logind": "auth", "polkitd": "auth",
    "pkexec": "auth", "unix_chkpwd": "auth", "sshd-session": "sshd",
    "clamd": "clamav", "freshclam": "clamav", "clamav": "clamav", "vsftpd": "vsftpd",
    "guacd": "guacamole", "guacamole": "guacamole", "auditd": "auditd", "audispd": "auditd",
    "audit": "auditd", "kernel": "syslog", "systemd": "syslog", "named": "syslog",
    "rsyslogd": "syslog", "dhclient": "syslog", "networkmanager": "syslog",
}  # fmt: skip
_AUTH_FACILITIES = (4, 10)
_CRON_FACILITIES = (9, 15)


def program_key(app_name: str | None) -> str:
    if not app_name:
        return ""
    return app_name.rsplit("/", 1)[-1].lower()


def linux_service(msg: SyslogMessage) -> str | None:
    service = PROGRAM_SERVICES.get(program_key(msg.app_name))
    if service is None and msg.facility is not None:
        if msg.facility in _AUTH_FACILITIES:
            return "auth"
        if msg.facility in _CRON_FACILITIES:
            return "cron"
    return service


def base_event(msg: SyslogMessage, dataset: str = "syslog") -> Event:
    """The ECS event every syslog-borne record starts from."""
    logsource: dict[str, str] = {"product": "linux"}
    event: Event = {
        "message": msg.message,
        "event": {"kind": "event"},
        "canhgac": {"dataset": dataset, "logsource": logsource},
    }
    if msg.timestamp is not None:
        event["@timestamp"] = to_utc_iso(msg.timestamp)
    if msg.rfc == "none":
        return event
    syslog: dict[str, Any] = {}
    if msg.priority is not None and msg.facility is not None and msg.severity is not None:
        syslog["priority"] = msg.priority
        syslog["facility"] = {"code": msg.facility, "name": FACILITY_NAMES[msg.facility]}
        syslog["severity"] = {"code": msg.severity, "name": SEVERITY_NAMES[msg.severity]}
        event["log"] = {"syslog": syslog, "level": SEVERITY_NAMES[msg.severity].lower()}
    else:
        event["log"] = {"syslog": syslog}
    if msg.version is not None:
        syslog["version"] = str(msg.version)
    if msg.hostname:
        syslog["hostname"] = msg.hostname
        event["host"] = {"hostname": msg.hostname, "name": msg.hostname}
    if msg.app_name:
        syslog["appname"] = msg.app_name
        process: dict[str, Any] = {"name": msg.app_name}
        event["process"] = process
        if msg.procid:
            syslog["procid"] = msg.procid
            if msg.procid.isascii() and msg.procid.isdigit() and len(msg.procid) < 11:
                process["pid"] = int(msg.procid)
    elif msg.procid:
        syslog["procid"] = msg.procid
    if msg.msgid:
        syslog["msgid"] = msg.msgid
    if msg.structured_data:
        syslog["structured_data"] = msg.structured_data
    service = linux_service(msg)
    if service:
        logsource["service"] = service
    return event


# A relay (rsyslog, syslog-ng) reads a device's line as RFC 3164 and takes its first word for the
# tag: "CEF:0|…" becomes tag "CEF:" and message "0|…", which the relay forwards as
# "CEF: 0|…" (RFC 3164) or with APP-NAME "CEF" (RFC 5424). These first words are no program's
# name; each group says which separator the relay ate: CEF/LEEF ":", Cisco "%ASA-6-302013: ",
# FortiGate's "date=2026-12-06 " (a key=value line has no tag, only a first word).
_RELAYED_TAG_RE = re.compile(r"(CEF|LEEF)|(%[A-Z]{2,8}-\d-\d{6})|(\w{1,32}=\S*)")


def relayed_device_line(msg: SyslogMessage) -> SyslogMessage | None:
    """The device's own line when a relay took its first word for the tag, else None."""
    app = msg.app_name
    if not app or msg.procid is not None:
        return None
    m = _RELAYED_TAG_RE.fullmatch(app)
    if m is None:
        return None
    separator = ":" if m.group(1) else ": " if m.group(2) else " "
    text = f"{app}{separator}{msg.message}" if msg.message else app
    return replace(msg, app_name=None, message=text)


def message_text(raw: RawEnvelope) -> str:
    """The text a line-based parser reads; a JSON payload with a `message` string also serves."""
    text = raw.message
    if text is None and raw.payload is not None:
        candidate = raw.payload.get("message")
        text = candidate if isinstance(candidate, str) else None
    if text is None:
        raise ParseError(f"format {raw.format!r} needs a text message, got none")
    if not text.strip():
        raise ParseError("empty record")
    return text


def body_formats_in_order() -> list[BodyFormat]:
    """The registered body formats in BODY_FORMAT_PRECEDENCE order (never alphabetical luck)."""
    # The body formats' modules import this one; the catalog imports them all once, here.
    from canhgac.pipeline.normalize import catalog  # noqa: F401

    unlisted = set(body_formats) - set(BODY_FORMAT_PRECEDENCE)
    if unlisted:
        raise ConfigError(f"syslog body formats missing from BODY_FORMAT_PRECEDENCE: {', '.join(sorted(unlisted))}")
    return [body_formats.get(name) for name in BODY_FORMAT_PRECEDENCE]


@parsers.register("syslog")
class SyslogParser:
    """Syslog of any flavour; the body is then recognised by content (CEF, FortiGate, …) or
    enriched by program (sshd, sudo, …)."""

    name: ClassVar[str] = "syslog"

    def __init__(self, default_tz: str = DEFAULT_TZ_NAME) -> None:
        self.tz = zone(default_tz)
        self.tz_name = default_tz
        self._bodies: list[BodyFormat] = body_formats_in_order()

    def header(self, raw: RawEnvelope, text: str) -> SyslogMessage:
        return parse_syslog(
            text, default_tz=self.tz, reference=parse_received_at(raw.received_at), allow_missing_pri=True
        )

    def _detect(self, msg: SyslogMessage) -> BodyFormat | None:
        for body in self._bodies:
            if body.detect(msg):
                return body
        return None

    def parse(self, raw: RawEnvelope) -> Event:
        if raw.message is None and raw.payload is not None:
            return self.parse_document(raw, raw.payload)
        return self.event(self.header(raw, message_text(raw)))

    def parse_document(self, raw: RawEnvelope, doc: dict[str, Any]) -> Event:
        """A shipper's JSON document (`_bulk`, HTTP): its line, read as syslog unless the document
        names another parser (pipeline/normalize/shipped.py)."""
        # shipped.py builds on this module; importing it here keeps the import graph acyclic.
        from canhgac.pipeline.normalize import json_record, shipped

        found = shipped.read_document(doc, self.tz)
        if found.inner_format not in (None, "syslog"):
            return shipped.parse_inner(raw, found, self.tz_name)
        if found.text is None or not found.text.strip():
            event = json_record.json_event(doc, self.tz)
            shipped.finish(event, found)
            return event
        reference = found.time or parse_received_at(raw.received_at)
        msg = parse_syslog(found.text, default_tz=self.tz, reference=reference, allow_missing_pri=True)
        if msg.rfc == "none":  # a bare message: the shipper's fields are its header
            msg = found.syslog_message(self.tz)
        event = self.event(msg)
        shipped.finish(event, found)
        return event

    def event(self, msg: SyslogMessage) -> Event:
        """The event of a syslog message: body format by content, else enrichment by program."""
        body: BodyFormat | None = None
        device = relayed_device_line(msg)
        if device is not None:
            body = self._detect(device)
            if body is not None:
                msg = device
        if body is None:
            body = self._detect(msg)
        event = base_event(msg)
        if body is not None:
            try:
                body.apply(event, msg)
            except ParseError as exc:
                # A body that looked like a format and was not: keep the syslog event.
                event["error"] = {"message": f"{body.name}: {exc.message}"}
            return event
        program = program_key(msg.app_name)
        if program and program in program_enrichers:
            program_enrichers.get(program)(event, msg)
        return event

    def parse_as(self, raw: RawEnvelope, body: BodyFormat) -> Event:
        """For a parser of one format (`cef`, `fortigate` …): syslog header optional, body required."""
        msg = self.header(raw, message_text(raw))
        device = relayed_device_line(msg)
        if device is not None and body.detect(device):
            msg = device
        elif not body.detect(msg):
            raise ParseError(f"not a {body.name} record")
        event = base_event(msg)
        body.apply(event, msg)
        return event
