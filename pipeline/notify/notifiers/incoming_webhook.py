"""What Slack/Mattermost and Teams share: an incoming-webhook URL that is itself a credential
(read from the config, an environment variable or a file) and a plain JSON POST to it. The URL
never appears in a recorded error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from canhgac.pipeline.notify.credentials import require_secret
from canhgac.pipeline.notify.errors import DeliveryError
from canhgac.pipeline.notify.message import Message
from canhgac.pipeline.notify.notifiers.base import Delivery, Notifier, dumps, post


class IncomingWebhookNotifier(Notifier):
    def __init__(self, name: str, config: Any, *, environ: Mapping[str, str], http: httpx.AsyncClient):
        super().__init__(name, config, environ=environ, http=http)
        self._url: str = config.url or require_secret(
            f"channel {name}", env=config.url_env, file=config.url_file, environ=environ
        )

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
