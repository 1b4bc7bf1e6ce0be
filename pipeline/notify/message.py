"""The channel-neutral message: what every channel says, before it is shaped into a payload.

A message is rendered once, when it enters the outbox, and stored with it, so a retry after a
restart sends exactly what the first attempt would have sent.
"""

from __future__ import annotations

from html import escape
from typing import Literal

from canhgac.core.alert import DEFAULT_SEVERITY, Severity
from pydantic import BaseModel, ConfigDict

MessageKind = Literal["alert", "group", "escalation", "held", "digest", "test"]

SEVERITY_LABELS_VI: dict[str, str] = {
    Severity.INFORMATIONAL: "THÔNG TIN",
    Severity.LOW: "THẤP",
    Severity.MEDIUM: "TRUNG BÌNH",
    Severity.HIGH: "CAO",
    Severity.CRITICAL: "NGHIÊM TRỌNG",
}
SEVERITY_COLOURS: dict[str, str] = {
    Severity.INFORMATIONAL: "#90A4AE",
    Severity.LOW: "#FDD835",
    Severity.MEDIUM: "#FB8C00",
    Severity.HIGH: "#E53935",
    Severity.CRITICAL: "#8E0000",
}


class Fact(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    label: str
    value: str


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: MessageKind
    subject: str  # e-mail subject and the headline elsewhere
    title: str
    severity: str
    summary: str = ""
    facts: tuple[Fact, ...] = ()
    lines: tuple[str, ...] = ()  # one line per alert in a group, summary or digest
    alert_ids: tuple[str, ...] = ()
    ack_url: str | None = None
    console_url: str | None = None

    @property
    def severity_label(self) -> str:
        return SEVERITY_LABELS_VI.get(self.severity, self.severity.upper())

    @property
    def colour(self) -> str:
        return SEVERITY_COLOURS.get(self.severity, SEVERITY_COLOURS[DEFAULT_SEVERITY])

    def plain_text(self) -> str:
        out = [self.subject, ""]
        if self.summary:
            out += [self.summary, ""]
        out += [f"{f.label}: {f.value}" for f in self.facts]
        if self.lines:
            out += ["", *(f"- {line}" for line in self.lines)]
        if self.console_url:
            out += ["", f"Xem trên bảng điều khiển: {self.console_url}"]
        if self.ack_url:
            out += [f"Xác nhận đã nhận cảnh báo: {self.ack_url}"]
        return "\n".join(out) + "\n"

    def html(self) -> str:
        parts = [
            "<!DOCTYPE html>",
            '<html lang="vi"><head><meta charset="utf-8"></head><body>',
            f'<h2 style="color:{self.colour}">{escape(self.subject)}</h2>',
        ]
        if self.summary:
            parts.append(f"<p>{escape(self.summary)}</p>")
        if self.facts:
            parts.append("<table>")
            parts += [f'<tr><th align="left">{escape(f.label)}</th><td>{escape(f.value)}</td></tr>' for f in self.facts]
            parts.append("</table>")
        if self.lines:
            parts.append("<ul>" + "".join(f"<li>{escape(line)}</li>" for line in self.lines) + "</ul>")
        links = []
        if self.console_url:
            links.append(f'<a href="{escape(self.console_url)}">Xem trên bảng điều khiển</a>')
        if self.ack_url:
            links.append(f'<a href="{escape(self.ack_url)}">Xác nhận đã nhận cảnh báo</a>')
        if links:
            parts.append("<p>" + " | ".join(links) + "</p>")
        parts.append("</body></html>")
        return "\n".join(parts) + "\n"
