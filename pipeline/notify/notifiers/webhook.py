"""Generic JSON webhook, signed with HMAC-SHA256 over "<timestamp>.<body>".

Receivers verify: hex(HMAC-SHA256(secret, timestamp + "." + raw body)) == the value after
"sha256=" in the signature header, reject timestamps too far from now, and drop a repeated
Idempotency-Key (a resend after a crash carries the same key).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import httpx
from canhgac.core.notify_config import WebhookChannel
from canhgac.pipeline.notify.credentials import require_secret, resolve_secret
from canhgac.pipeline.notify.message import Message
from canhgac.pipeline.notify.notifiers.base import Delivery, Notifier, dumps, notifiers, post


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


@notifiers.register("webhook")
class WebhookNotifier(Notifier):
    config_type = WebhookChannel
    config: WebhookChannel

    def __init__(self, name: str, config: WebhookChannel, *, environ: Mapping[str, str], http: httpx.AsyncClient):
        super().__init__(name, config, environ=environ, http=http)
        secret = resolve_secret(f"channel {name}", env=config.secret_env, file=config.secret_file, environ=environ)
        self._secret = secret.encode() if secret is not None else None
        self._secret_headers = {
            header: require_secret(f"channel {name} header {header}", env=var, file=None, environ=environ)
            for header, var in config.header_envs.items()
        }

    def build_request(self, message: Message, delivery: Delivery) -> dict[str, Any]:
        return {
            "version": "1",
            "idempotency_key": delivery.idempotency_key,
            "kind": message.kind,
            "subject": message.subject,
            "title": message.title,
            "severity": message.severity,
            "summary": message.summary,
            "facts": [{"label": f.label, "value": f.value} for f in message.facts],
            "lines": list(message.lines),
            "alert_ids": list(message.alert_ids),
            "ack_url": message.ack_url,
            "console_url": message.console_url,
            "text": message.plain_text(),
        }

    def headers(self, body: bytes, delivery: Delivery) -> dict[str, str]:
        timestamp = str(int(delivery.at.timestamp()))
        headers = {
            **self.config.headers,
            **self._secret_headers,
            self.config.idempotency_header: delivery.idempotency_key,
            self.config.timestamp_header: timestamp,
        }
        if self._secret is not None:
            headers[self.config.signature_header] = sign(self._secret, timestamp, body)
        return headers

    async def send(self, message: Message, delivery: Delivery) -> None:
        body = dumps(self.build_request(message, delivery))
        await post(
            self._http,
            self.config.url,
            body=body,
            headers=self.headers(body, delivery),
            timeout_secs=self.config.timeout_secs,
            where=f"channel {self.name}",
        )
