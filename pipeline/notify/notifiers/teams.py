"""Microsoft Teams incoming webhook or Workflows URL: an Adaptive Card (the current format) or a
legacy MessageCard (older connectors)."""

from __future__ import annotations

from typing import Any

from canhgac.core.alert import Severity
from canhgac.core.notify_config import TeamsChannel
from canhgac.pipeline.notify.message import Message
from canhgac.pipeline.notify.notifiers.base import Delivery, notifiers
from canhgac.pipeline.notify.notifiers.incoming_webhook import IncomingWebhookNotifier

_ADAPTIVE_COLOUR: dict[str, str] = {
    Severity.CRITICAL: "attention",
    Severity.HIGH: "attention",
    Severity.MEDIUM: "warning",
    Severity.LOW: "accent",
    Severity.INFORMATIONAL: "default",
}


def adaptive_card(message: Message) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": message.subject,
            "weight": "bolder",
            "size": "medium",
            "wrap": True,
            "color": _ADAPTIVE_COLOUR.get(message.severity, "default"),
        },
    ]
    if message.summary:
        body.append({"type": "TextBlock", "text": message.summary, "wrap": True})
    if message.facts:
        body.append({"type": "FactSet", "facts": [{"title": f.label, "value": f.value} for f in message.facts]})
    if message.lines:
        body.append({"type": "TextBlock", "text": "\n".join(f"- {line}" for line in message.lines), "wrap": True})
    actions = []
    if message.console_url:
        actions.append({"type": "Action.OpenUrl", "title": "Xem chi tiết", "url": message.console_url})
    if message.ack_url:
        actions.append({"type": "Action.OpenUrl", "title": "Xác nhận", "url": message.ack_url})
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if actions:
        content["actions"] = actions
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": content}],
    }


def message_card(message: Message) -> dict[str, Any]:
    section: dict[str, Any] = {
        "activityTitle": message.title,
        "facts": [{"name": f.label, "value": f.value} for f in message.facts],
    }
    text = "\n\n".join([*([message.summary] if message.summary else []), *message.lines])
    if text:
        section["text"] = text
    card: dict[str, Any] = {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "themeColor": message.colour.lstrip("#"),
        "summary": message.subject,
        "title": message.subject,
        "sections": [section],
    }
    actions = []
    if message.console_url:
        actions.append(
            {
                "@type": "OpenUri",
                "name": "Xem chi tiết",
                "targets": [{"os": "default", "uri": message.console_url}],
            }
        )
    if message.ack_url:
        actions.append({"@type": "OpenUri", "name": "Xác nhận", "targets": [{"os": "default", "uri": message.ack_url}]})
    if actions:
        card["potentialAction"] = actions
    return card


@notifiers.register("teams")
class TeamsNotifier(IncomingWebhookNotifier):
    config_type = TeamsChannel
    config: TeamsChannel

    def build_request(self, message: Message, delivery: Delivery) -> dict[str, Any]:
        return adaptive_card(message) if self.config.card == "adaptive" else message_card(message)
