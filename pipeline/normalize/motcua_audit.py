"""The one-stop e-government system's (Hệ thống thông tin giải quyết thủ tục hành chính — Một cửa
điện tử) application audit log, schema `motcua.audit/1`, documented in docs/sources/motcua-audit.md.

One JSON object per action: logins, dossier (hồ sơ) access and status changes, exports, account
and configuration changes. Unknown keys are kept under `motcua.audit.extra` so a newer sender
version loses nothing; a record without `ts` or `action` is refused, because an audit record that
cannot say when and what happened is not one.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from canhgac.core.envelope import RawEnvelope
from canhgac.core.errors import ParseError
from canhgac.core.event import Event
from canhgac.pipeline.normalize.base import parsers
from canhgac.pipeline.normalize.fieldvalues import add_related, int_or_none, put_endpoint
from canhgac.pipeline.normalize.json_record import load_object, parse_time
from canhgac.pipeline.normalize.timestamps import DEFAULT_TZ_NAME, to_utc_iso, zone

DATASET = "motcua.audit"
SCHEMA = "motcua.audit/1"
_ACTION_RE = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\Z")

# action -> (event.category, event.type). ECS's `database` category allows only access, change,
# info and error as types, so creating or deleting a dossier is a change (event.action tells which).
ACTIONS: dict[str, tuple[list[str], list[str]]] = {
    "user.login": (["authentication", "session"], ["start"]),
    "user.logout": (["authentication", "session"], ["end"]),
    "user.password_change": (["iam"], ["user", "change"]),
    "user.password_reset": (["iam"], ["user", "change"]),
    "user.create": (["iam"], ["user", "creation"]),
    "user.delete": (["iam"], ["user", "deletion"]),
    "user.lock": (["iam"], ["user", "change"]),
    "user.unlock": (["iam"], ["user", "change"]),
    "user.role_change": (["iam"], ["user", "change"]),
    "dossier.create": (["database"], ["change"]),
    "dossier.view": (["database"], ["access"]),
    "dossier.search": (["database"], ["access"]),
    "dossier.update": (["database"], ["change"]),
    "dossier.status_change": (["database"], ["change"]),
    "dossier.assign": (["database"], ["change"]),
    "dossier.delete": (["database"], ["change"]),
    "dossier.attachment_download": (["file"], ["access"]),
    "dossier.attachment_upload": (["file"], ["creation"]),
    "dossier.sign": (["database"], ["change"]),
    "report.export": (["database"], ["access"]),
    "dossier.export": (["database"], ["access"]),
    "config.change": (["configuration"], ["change"]),
}
# Flat record keys copied as they are to motcua.audit.<key>.
_KEPT = (
    "schema", "event_id", "app", "app_version", "agency_code", "agency_name", "session_id", "request_id",
    "dossier_id", "procedure_code", "status_from", "status_to", "export_format", "record_count",
    "target_user", "config_key", "user_role",
)  # fmt: skip
_MAPPED = frozenset(
    {"ts", "action", "outcome", "reason", "user", "user_id", "user_full_name", "client_ip", "client_port",
     "user_agent", "http_method", "url", "http_status", "message"}
) | frozenset(_KEPT)  # fmt: skip


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def motcua_event(data: dict[str, Any], tz: Any) -> Event:
    ts = parse_time(data.get("ts"), tz)
    if ts is None:
        raise ParseError("motcua audit record has no valid 'ts' (RFC 3339 time stamp)")
    action = _text(data, "action")
    if action is None or not _ACTION_RE.match(action):
        raise ParseError("motcua audit record has no valid 'action' (like 'dossier.view')")
    category, types = ACTIONS.get(action, (None, ["info"]))
    ev: dict[str, Any] = {"kind": "event", "action": action, "type": types}
    if category:
        ev["category"] = category
    outcome = _text(data, "outcome")
    if outcome in ("success", "failure", "unknown"):
        ev["outcome"] = outcome
    if reason := _text(data, "reason"):
        ev["reason"] = reason
    event: Event = {"@timestamp": to_utc_iso(ts), "event": ev}
    user: dict[str, Any] = {}
    if name := _text(data, "user"):
        user["name"] = name
        add_related(event, "user", name)
    if uid := _text(data, "user_id"):
        user["id"] = uid
    if full := _text(data, "user_full_name"):
        user["full_name"] = full
    if role := _text(data, "user_role"):
        user["roles"] = [role]
    if target := _text(data, "target_user"):
        user["target"] = {"name": target}
        add_related(event, "user", target)
    if user:
        event["user"] = user
    client_ip = _text(data, "client_ip")
    if client_ip:
        put_endpoint(event, "source", client_ip, data.get("client_port"))
        add_related(event, "ip", event.get("source", {}).get("ip"))
    if agent := _text(data, "user_agent"):
        event["user_agent"] = {"original": agent}
    if url := _text(data, "url"):
        path, sep, query = url.partition("?")
        event["url"] = {"original": url, "path": path, **({"query": query} if sep and query else {})}
    method, status = _text(data, "http_method"), int_or_none(data.get("http_status"))
    if method or status is not None:
        http: dict[str, Any] = {}
        if method:
            http["request"] = {"method": method}
        if status is not None:
            http["response"] = {"status_code": status}
        event["http"] = http
    if agency := _text(data, "agency_code"):
        event["organization"] = {"id": agency}
        if agency_name := _text(data, "agency_name"):
            event["organization"]["name"] = agency_name
    if app := _text(data, "app"):
        event["service"] = {"name": app}
        if version := _text(data, "app_version"):
            event["service"]["version"] = version
    audit: dict[str, Any] = {k: data[k] for k in _KEPT if k in data and data[k] not in (None, "")}
    extra = {k: v for k, v in data.items() if k not in _MAPPED}
    if extra:
        audit["extra"] = extra
    event["motcua"] = {"audit": audit}
    message = _text(data, "message")
    if message is None:
        subject = _text(data, "dossier_id") or _text(data, "target_user") or ""
        message = " ".join(p for p in (name or "-", action, subject, outcome or "") if p)
    event["message"] = message
    event["canhgac"] = {"dataset": DATASET, "logsource": {"product": "motcua", "service": "audit"}}
    return event


@parsers.register("motcua-audit")
class MotcuaAuditParser:
    name: ClassVar[str] = "motcua-audit"

    def __init__(self, default_tz: str = DEFAULT_TZ_NAME) -> None:
        self.tz = zone(default_tz)

    def parse(self, raw: RawEnvelope) -> Event:
        return motcua_event(load_object(raw), self.tz)
