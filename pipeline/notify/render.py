"""Alerts to messages, in Vietnamese. Rule authors are shown with every alert (SigmaHQ licence)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from canhgac.core.alert import DEFAULT_SEVERITY, Severity, Status, severity_rank
from canhgac.core.event import get_path
from canhgac.pipeline.notify.message import SEVERITY_LABELS_VI, Fact, Message

Alert = Mapping[str, Any]


@dataclass(frozen=True)
class RenderContext:
    zone: ZoneInfo
    agency_names: Mapping[str, str]
    console_url: str | None = None
    ack_url_for: Callable[[str], str | None] = lambda _alert_id: None

    def agency(self, code: str | None) -> str:
        return self.agency_names.get(code or "", code or "?")

    def console_link(self, alert_id: str) -> str | None:
        return f"{self.console_url.rstrip('/')}/alerts/{alert_id}" if self.console_url else None

    def local_time(self, value: Any) -> str:
        if not isinstance(value, str) or not value:
            return ""
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        if parsed.tzinfo is None:
            return value
        return parsed.astimezone(self.zone).strftime("%d/%m/%Y %H:%M:%S")


def label(severity: str) -> str:
    return SEVERITY_LABELS_VI.get(severity, severity.upper())


def rule_title(alert: Alert) -> str:
    return str(get_path(alert, "rule.title") or get_path(alert, "rule.id") or "?")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def alert_facts(alert: Alert, ctx: RenderContext) -> tuple[Fact, ...]:
    severity = str(alert.get("severity", ""))
    rule = f"{rule_title(alert)} ({get_path(alert, 'rule.id')})"
    pairs = [
        ("Mức độ", f"{label(severity)} ({severity})"),
        ("Cơ quan", ctx.agency(alert.get("agency"))),
        ("Quy tắc", rule),
        ("Máy", _text(get_path(alert, "host.name"))),
        ("Người dùng", _text(get_path(alert, "user.name"))),
        ("IP nguồn", _text(get_path(alert, "source.ip"))),
        ("Số lần", _text(alert.get("count"))),
        ("Lần đầu", ctx.local_time(alert.get("first_seen"))),
        ("Lần cuối", ctx.local_time(alert.get("last_seen"))),
        ("ATT&CK", _text(get_path(alert, "rule.tags"))),
        ("Tác giả quy tắc", _text(get_path(alert, "rule.author"))),
        ("Nguồn log", _text(get_path(alert, "canhgac.source_id"))),
        ("Mã cảnh báo", _text(alert.get("id"))),
    ]
    return tuple(Fact(label=k, value=v) for k, v in pairs if v)


def alert_line(alert: Alert, ctx: RenderContext) -> str:
    severity = str(alert.get("severity", ""))
    where = " ".join(str(v) for v in (get_path(alert, "host.name"), get_path(alert, "user.name")) if v)
    seen = ctx.local_time(alert.get("last_seen") or alert.get("first_seen"))
    parts = [f"[{label(severity)}] {rule_title(alert)}", where, f"×{alert.get('count', 1)}", seen]
    return " — ".join(p for p in parts if p)


def render_alert(alert: Alert, ctx: RenderContext, *, escalation_level: int = 0) -> Message:
    severity = str(alert.get("severity", DEFAULT_SEVERITY))
    tag = f"[LEO THANG {escalation_level}]" if escalation_level else ""
    subject = f"[Canhgac][{label(severity)}]{tag} {rule_title(alert)} — {ctx.agency(alert.get('agency'))}"
    alert_id = str(alert["id"])
    return Message(
        kind="escalation" if escalation_level else "alert",
        subject=subject,
        title=rule_title(alert),
        severity=severity,
        summary=_text(get_path(alert, "rule.description")),
        facts=alert_facts(alert, ctx),
        alert_ids=(alert_id,),
        ack_url=ctx.ack_url_for(alert_id),
        console_url=ctx.console_link(alert_id),
    )


def render_group(alerts: Sequence[Alert], ctx: RenderContext, *, escalation_level: int = 0) -> Message:
    """One message for alerts of one rule and group key; the first alert speaks for them all and
    its acknowledgement link acknowledges every alert counted here."""
    if len(alerts) == 1:
        return render_alert(alerts[0], ctx, escalation_level=escalation_level)
    first = alerts[0]
    severity = max((str(a.get("severity", DEFAULT_SEVERITY)) for a in alerts), key=severity_rank)
    total = sum(int(a.get("count", 1) or 1) for a in alerts)
    tag = f"[LEO THANG {escalation_level}]" if escalation_level else ""
    subject = (
        f"[Canhgac][{label(severity)}]{tag} {rule_title(first)} (×{len(alerts)}) — {ctx.agency(first.get('agency'))}"
    )
    first_id = str(first["id"])
    return Message(
        kind="escalation" if escalation_level else "group",
        subject=subject,
        title=rule_title(first),
        severity=severity,
        summary=f"{len(alerts)} cảnh báo cùng quy tắc trong một cửa sổ gộp, tổng {total} sự kiện khớp.",
        facts=alert_facts(first, ctx),
        lines=tuple(alert_line(a, ctx) for a in alerts),
        alert_ids=tuple(str(a["id"]) for a in alerts),
        ack_url=ctx.ack_url_for(first_id),
        console_url=ctx.console_link(first_id),
    )


def render_held(alerts: Sequence[Alert], ctx: RenderContext, *, reason: str, route: str) -> Message:
    severity = max((str(a.get("severity", Severity.LOW)) for a in alerts), key=severity_rank)
    why = "trong giờ yên tĩnh" if reason == "quiet" else "do giới hạn tần suất"
    return Message(
        kind="held",
        subject=f"[Canhgac] {len(alerts)} cảnh báo được giữ lại {why} — {route}",
        title=f"{len(alerts)} cảnh báo được giữ lại {why}",
        severity=severity,
        summary=f"Các cảnh báo sau được giữ lại {why} và gửi gộp một lần.",
        lines=tuple(alert_line(a, ctx) for a in alerts),
        alert_ids=tuple(str(a["id"]) for a in alerts),
    )


def render_daily_digest(agency: str, day: date, alerts: Sequence[Alert], ctx: RenderContext) -> Message:
    by_severity: dict[str, int] = {}
    for a in alerts:
        sev = str(a.get("severity", DEFAULT_SEVERITY))
        by_severity[sev] = by_severity.get(sev, 0) + 1
    facts = tuple(
        Fact(label=label(sev), value=str(by_severity[sev]))
        for sev in sorted(by_severity, key=severity_rank, reverse=True)
    )
    open_alerts = sum(1 for a in alerts if a.get("status", Status.NEW) == Status.NEW)
    ordered = sorted(alerts, key=lambda a: -severity_rank(str(a.get("severity", ""))))
    severity = str(ordered[0].get("severity", Severity.INFORMATIONAL)) if ordered else Severity.INFORMATIONAL
    return Message(
        kind="digest",
        subject=f"[Canhgac] Tổng hợp cảnh báo ngày {day:%d/%m/%Y} — {ctx.agency(agency)}",
        title=f"Tổng hợp cảnh báo ngày {day:%d/%m/%Y}",
        severity=severity,
        summary=f"{len(alerts)} cảnh báo trong 24 giờ qua, {open_alerts} chưa được xác nhận.",
        facts=facts,
        lines=tuple(alert_line(a, ctx) for a in ordered),
        alert_ids=tuple(str(a["id"]) for a in ordered),
    )


def render_test(channel: str, at: datetime, ctx: RenderContext) -> Message:
    return Message(
        kind="test",
        subject=f"[Canhgac] Thử kênh thông báo {channel}",
        title=f"Thử kênh thông báo {channel}",
        severity=Severity.INFORMATIONAL,
        summary="Đây là tin thử của Canhgac. Nếu bạn đọc được tin này, kênh đã hoạt động.",
        facts=(Fact(label="Thời điểm", value=at.astimezone(ctx.zone).strftime("%d/%m/%Y %H:%M:%S")),),
    )
