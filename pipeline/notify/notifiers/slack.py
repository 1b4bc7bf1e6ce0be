"""Slack- and Mattermost-compatible incoming webhook: `text` plus one legacy attachment, which
both products render (Mattermost does not render Slack's Block Kit)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from canhgac.core.notify_config import SlackChannel
from canhgac.pipeline.notify.credentials import require_secret
from canhgac.pipeline.notify.errors import DeliveryError
from canhgac.pipeline.notify.message import Message
from canhgac.pipeline.notify.notifiers.base import Delivery, Notifier, dumps, notifiers, post

MAX_LINES = 30


def _mrkdwn_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@notifiers.register("slack")
class SlackNotifier(Notifier):
    config_type = SlackChannel
    config: SlackChannel

    def __init__(
        self, name: str, config: SlackChannel, *, environ: Mapping[str, str], http: httpx.AsyncClient
    ):
        super().__init__(name, config, environ=environ, http=http)
        self._url = config.url or require_secret(
            f"channel {name}", env=config.url_env, file=config.url_file, environ=environ
        )

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
                {"title": f.label, "value": _mrkdwn_escape(f.value), "short": len(f.value) < 40}
                for f in message.facts
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

    async def send(self, message: Message, delivery: Delivery) -> None:
        try:
            await post(
                self._http,
                self._url,
                body=dumps(self.build_request(message, delivery)),
                headers={},
                timeout_secs=self.config.timeout_secs,
                where=f"channel {self.name}",
            )
        except DeliveryError as exc:
            exc.message = exc.message.replace(self._url, "<webhook url>")
            raise
