"""Telegram Bot API `sendMessage` with HTML parse mode."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

import httpx
from canhgac.core.alert import Severity
from canhgac.core.notify_config import TelegramChannel
from canhgac.pipeline.notify.credentials import require_secret
from canhgac.pipeline.notify.errors import DeliveryError
from canhgac.pipeline.notify.message import Message
from canhgac.pipeline.notify.notifiers.base import Delivery, Notifier, dumps, notifiers, post

MAX_TEXT_CHARS = 4096  # Telegram's limit on one message, counted after entity parsing
_ICONS: dict[str, str] = {
    Severity.CRITICAL: "🔴",
    Severity.HIGH: "🟠",
    Severity.MEDIUM: "🟡",
    Severity.LOW: "🔵",
    Severity.INFORMATIONAL: "⚪",
}


def telegram_html(message: Message) -> str:
    """Only <b>, <i>, <a>, <code>, <pre> are allowed; everything else is escaped."""
    out = [f"{_ICONS.get(message.severity, '')} <b>{escape(message.subject, quote=False)}</b>".strip()]
    if message.summary:
        out.append(escape(message.summary, quote=False))
    out += [f"<b>{escape(f.label, quote=False)}:</b> {escape(f.value, quote=False)}" for f in message.facts]
    lines = [f"• {escape(line, quote=False)}" for line in message.lines]
    links = []
    if message.console_url:
        links.append(f'<a href="{escape(message.console_url)}">Xem chi tiết</a>')
    if message.ack_url:
        links.append(f'<a href="{escape(message.ack_url)}">Xác nhận</a>')
    tail = [" | ".join(links)] if links else []
    text = "\n".join(out + lines + tail)
    while len(text) > MAX_TEXT_CHARS and lines:
        lines = lines[:-1]
        text = "\n".join([*out, *lines, "• …", *tail])
    return text[:MAX_TEXT_CHARS]


@notifiers.register("telegram")
class TelegramNotifier(Notifier):
    config_type = TelegramChannel
    config: TelegramChannel

    def __init__(self, name: str, config: TelegramChannel, *, environ: Mapping[str, str], http: httpx.AsyncClient):
        super().__init__(name, config, environ=environ, http=http)
        self._token = require_secret(f"channel {name}", env=config.token_env, file=config.token_file, environ=environ)

    @property
    def url(self) -> str:
        return f"{self.config.base_url.rstrip('/')}/bot{self._token}/sendMessage"

    def build_request(self, message: Message, delivery: Delivery) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "chat_id": self.config.chat_id,
            "text": telegram_html(message),
            "parse_mode": "HTML",
            "disable_web_page_preview": True,
            "disable_notification": self.config.disable_notification,
        }
        if self.config.message_thread_id is not None:
            payload["message_thread_id"] = self.config.message_thread_id
        return payload

    async def send(self, message: Message, delivery: Delivery) -> None:
        try:
            await post(
                self._http,
                self.url,
                body=dumps(self.build_request(message, delivery)),
                headers={},
                timeout_secs=self.config.timeout_secs,
                where=f"channel {self.name}",
            )
        except DeliveryError as exc:
            # The token is part of the URL; make sure no error text carries it into logs.
            exc.message = exc.message.replace(self._token, "<token>")
            raise
