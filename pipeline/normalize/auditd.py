"""Linux audit records (auditd's /var/log/audit/audit.log, or audisp forwarding them over syslog).

Every field is kept verbatim under `auditd.log.<field>` (after hex decoding), because SigmaHQ's
auditd rules name auditd's own fields (`type`, `key`, `exe`, `a0` …); the ECS fields analysts
search by (`process.*`, `user.*`, `source.ip`, `file.path`) are filled alongside. One line is one
record: records of one event (SYSCALL + EXECVE + PATH, same serial) share `auditd.log.sequence`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, ClassVar

from canhgac.core.envelope import RawEnvelope
from canhgac.core.errors import ParseError
from canhgac.core.event import Event
from canhgac.pipeline.normalize.base import parsers
from canhgac.pipeline.normalize.fieldvalues import add_related, int_or_none, put_endpoint
from canhgac.pipeline.normalize.syslog import SyslogMessage, SyslogParser, message_text
from canhgac.pipeline.normalize.syslog_extensions import body_formats
from canhgac.pipeline.normalize.timestamps import to_utc_iso

DATASET = "auditd"
_HEADER_RE = re.compile(r"(?:node=(\S+) )?type=(\w+) msg=audit\((\d{1,12})(?:\.(\d{1,9}))?:(\d+)\): ?")
_KV_RE = re.compile(r"([\w-]+)=(\"[^\"]*\"|'[^']*'|\S*)")
# Fields auditd hex-encodes when their value holds a space, quote or control character.
_ENCODED = frozenset(
    {"proctitle", "comm", "exe", "cwd", "name", "path", "cmd", "acct", "data", "key",
     "ocomm", "root_dir", "vm", "watch", "old-chardev", "new-chardev", "grp", "new_group"}
)  # fmt: skip
_USERSPACE_PREFIXES = ("USER_", "CRED_", "ADD_", "DEL_", "GRP_", "ACCT_")
_HEX_CHARS = frozenset("0123456789ABCDEFabcdef")
_EXECVE_ARG_RE = re.compile(r"a(\d+)\Z")

_CATEGORY = {
    "USER_LOGIN": (["authentication", "session"], ["start"]),
    "USER_AUTH": (["authentication"], ["info"]),
    "USER_ACCT": (["authentication"], ["info"]),
    "USER_START": (["session"], ["start"]),
    "USER_END": (["session"], ["end"]),
    "USER_LOGOUT": (["session"], ["end"]),
    "CRED_ACQ": (["authentication"], ["info"]),
    "CRED_DISP": (["authentication"], ["info"]),
    "USER_CMD": (["process"], ["start"]),
    "SYSCALL": (["process"], ["info"]),
    "EXECVE": (["process"], ["start"]),
    "PATH": (["file"], ["info"]),
    "CWD": (["file"], ["info"]),
    "ADD_USER": (["iam"], ["user", "creation"]),
    "DEL_USER": (["iam"], ["user", "deletion"]),
    "USER_MGMT": (["iam"], ["user", "change"]),
    "USER_CHAUTHTOK": (["iam"], ["user", "change"]),
    "ADD_GROUP": (["iam"], ["group", "creation"]),
    "DEL_GROUP": (["iam"], ["group", "deletion"]),
    "GRP_MGMT": (["iam"], ["group", "change"]),
    "CONFIG_CHANGE": (["configuration"], ["change"]),
    "SERVICE_START": (["process"], ["start"]),
    "SERVICE_STOP": (["process"], ["end"]),
    "AVC": (["intrusion_detection"], ["info"]),
    "ANOM_PROMISCUOUS": (["network"], ["info"]),
}


def _decode_hex(value: str) -> str:
    data = bytes.fromhex(value)
    return data.replace(b"\x00", b" ").decode("utf-8", errors="replace").rstrip(" ")


def _value(key: str, raw: str, execve: bool) -> str:
    if raw[:1] in ("'", '"'):
        return raw[1:-1] if len(raw) >= 2 and raw[-1] == raw[0] else raw[1:]
    if (
        len(raw) >= 2
        and len(raw) % 2 == 0
        and (key in _ENCODED or (execve and _EXECVE_ARG_RE.match(key)))
        and _HEX_CHARS.issuperset(raw)
    ):
        return _decode_hex(raw)
    return raw


def parse_audit_fields(text: str) -> tuple[dict[str, str], datetime, str]:
    """(fields, time, record type) of one record; ParseError when it is not one."""
    m = _HEADER_RE.search(text, 0, 200)
    if m is None:
        raise ParseError("no 'type=… msg=audit(time:serial):' header")
    node, rtype, seconds, frac, serial = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        ts = datetime.fromtimestamp(int(seconds), UTC).replace(microsecond=micro)
    except (OverflowError, OSError, ValueError) as exc:
        raise ParseError(f"audit time stamp out of range: {seconds}") from exc
    fields: dict[str, str] = {"type": rtype, "sequence": serial}
    if node:
        fields["node"] = node
    body = text[m.end() :]
    body, _, enriched = body.partition("\x1d")  # log_format=ENRICHED appends resolved names
    execve = rtype == "EXECVE"
    for key, raw in _KV_RE.findall(body):
        if key == "msg" and raw.startswith("'"):
            # USER_* records nest their own key=value list in msg='…'
            for k2, r2 in _KV_RE.findall(raw[1:-1] if raw.endswith("'") else raw[1:]):
                fields[k2] = _value(k2, r2, False)
            continue
        fields[key] = _value(key, raw, execve)
    for key, raw in _KV_RE.findall(enriched):
        fields[key] = _value(key, raw, False)
    return fields, ts, rtype


def _execve_args(fields: dict[str, str]) -> list[str]:
    count = int_or_none(fields.get("argc")) or 0
    args = []
    for i in range(min(count, 256)):
        arg = fields.get(f"a{i}")
        if arg is None:
            break
        args.append(arg)
    return args


def _ids(node: dict[str, Any], value: str | None) -> None:
    number = int_or_none(value)
    if number is not None and number not in (4294967295, -1):  # auditd's "unset"
        node["id"] = str(number)


def apply_audit(event: Event, text: str) -> None:
    fields, ts, rtype = parse_audit_fields(text)
    event["@timestamp"] = to_utc_iso(ts)
    category, types = _CATEGORY.get(rtype, (None, ["info"]))
    ev = event["event"]
    ev["action"] = rtype.lower()
    if category:
        ev["category"] = category
    ev["type"] = types
    success, res = fields.get("success"), fields.get("res")
    if success in ("yes", "no") or res:
        ev["outcome"] = "success" if success == "yes" or res in ("success", "1") else "failure"
    process: dict[str, Any] = {}
    if (pid := int_or_none(fields.get("pid"))) is not None:
        process["pid"] = pid
    if (ppid := int_or_none(fields.get("ppid"))) is not None:
        process["parent"] = {"pid": ppid}
    if "exe" in fields:
        process["executable"] = fields["exe"]
    if "comm" in fields:
        process["name"] = fields["comm"]
    if "proctitle" in fields:
        process["title"] = fields["proctitle"]
    if rtype == "EXECVE":
        args = _execve_args(fields)
        if args:
            process["args"], process["command_line"] = args, " ".join(args)
    if rtype == "CWD" and "cwd" in fields:
        process["working_directory"] = fields["cwd"]
    if rtype == "USER_CMD" and "cmd" in fields:
        process["command_line"] = fields["cmd"]
        if "cwd" in fields:
            process["working_directory"] = fields["cwd"]
    event["process"] = process
    user: dict[str, Any] = {}
    # In user-space records (USER_*, CRED_*, ADD_USER …) uid is the reporting process's, not the
    # account's: user.id would then contradict user.name (acct).
    if not rtype.startswith(_USERSPACE_PREFIXES):
        _ids(user, fields.get("uid"))
    audit: dict[str, Any] = {}
    _ids(audit, fields.get("auid"))
    if audit:
        user["audit"] = audit
    effective: dict[str, Any] = {}
    _ids(effective, fields.get("euid"))
    if effective:
        user["effective"] = effective
    name = fields.get("acct") or fields.get("UID") or fields.get("AUID")
    if name and name not in ("(unknown)", "?", "unset"):
        user["name"] = name
        add_related(event, "user", name)
    if user:
        event["user"] = user
    addr = fields.get("addr")
    if addr and addr != "?":
        put_endpoint(event, "source", addr)
        add_related(event, "ip", event.get("source", {}).get("ip"))
    if rtype == "PATH" and "name" in fields:
        event["file"] = {"path": fields["name"]}
    if fields.get("key") and fields["key"] != "(null)":
        event["tags"] = [fields["key"]]
    if "node" in fields:
        event.setdefault("host", {})["name"] = fields["node"]
    if not process:
        del event["process"]
    event["auditd"] = {"log": fields}
    event["canhgac"]["dataset"] = DATASET
    event["canhgac"]["logsource"] = {"product": "linux", "service": "auditd"}


class AuditBody:
    """audisp-syslog / rsyslog imfile lines: 'type=SYSCALL msg=audit(…): …' as the message."""

    name: ClassVar[str] = "auditd"

    def detect(self, msg: SyslogMessage) -> bool:
        head = msg.message[:120]
        return "type=" in head and "msg=audit(" in head

    def apply(self, event: Event, msg: SyslogMessage) -> None:
        apply_audit(event, msg.message)


body_formats.register("auditd")(AuditBody())


@parsers.register("auditd")
class AuditdParser:
    name: ClassVar[str] = "auditd"

    def __init__(self, default_tz: str = "Asia/Ho_Chi_Minh") -> None:
        self._syslog = SyslogParser(default_tz)

    def parse(self, raw: RawEnvelope) -> Event:
        text = message_text(raw)
        if text.startswith("<"):  # forwarded through syslog
            return self._syslog.parse_as(raw, _BODY)
        event: Event = {"message": text, "event": {"kind": "event"}, "canhgac": {}}
        apply_audit(event, text)
        return event


_BODY = AuditBody()
