"""Slack- and Mattermost-compatible incoming webhook: `text` plus one legacy attachment, which
both products render (Mattermost does not render Slack's Block Kit)."""

from __future__ import annotations

from typing import Any

from canhgac.core.notify_config import SlackChannel
from canhgac.pipeline.notify.message import Message
from canhgac.pipeline.notify.notifiers.base import Delivery, notifiers
from canhgac.pipeline.notify.notifiers.incoming_webhook import IncomingWebhookNotifier

MAX_LINES = 30


def _mrkdwn_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@notifiers.register("slack")
class SlackNotifier(IncomingWebhookNotifier):
    config_type = SlackChannel
    config: SlackChannel

    def build_request(self, message: Message, delivery: Delivery) -> dict[str, Any]:
        text_parts = [_mrkdwn_escape(message.summary)] if message.summary else []
        lines = [f"• {_mrkdwn_escape(line)}" for line in message.lines[:MAX_LINES]]
        if len(message.lines) > MAX_LINES:
            lines.append(f"• … {len(message.lines) - MAX_LINES} more")
        links = []
        if message.console_url:
            links.append(f"<{message.console_url}|Xem chi tiết>")
        if message.ack_url:
            links.append(f"<{message.ack_url}|Xác nhận>")
        attachment: dict[str, Any] = {
            "fallback": message.subject,
            "color": message.colour,
            "title": message.subject,
            "text": "\n".join([*text_parts, *lines, *([" | ".join(links)] if links else [])]),
            "fields": [
                {"title": f.label, "value": _mrkdwn_escape(f.value), "short": len(f.value) < 40} for f in message.facts
            ],
        }
        if message.console_url:
            attachment["title_link"] = message.console_url
        payload: dict[str, Any] = {"text": _mrkdwn_escape(message.subject), "attachments": [attachment]}
        for key in ("channel", "username", "icon_url"):
            value = getattr(self.config, key)
            if value is not None:
                payload[key] = value
        return payload
