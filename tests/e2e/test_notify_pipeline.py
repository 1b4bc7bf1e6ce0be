"""High-severity alerts from the demo feed reach a local mailbox (real SMTP server) and a webhook,
once each, through the real Kafka pipeline."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from email import message_from_bytes
from email.header import decode_header, make_header

import orjson
import pytest
from aiosmtpd.controller import Controller
from canhgac.core.notify_config import NotifyConfig

from canhgac.demo_feed import send_lines, windows_lines
from canhgac.runtime import Runtime
from tests.conftest import eventually, free_port
from tests.integration.notify.support import LocalHttpServer

pytestmark = pytest.mark.e2e


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append(envelope.content)
        return "250 Message accepted for delivery"


async def test_high_alerts_arrive_by_email_and_webhook_once_each(test_settings) -> None:
    mailbox = Mailbox()
    smtp_port = free_port()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    hook = await LocalHttpServer().start()
    notify = NotifyConfig.model_validate(
        {
            "channels": {
                "soc-mail": {
                    "type": "email",
                    "host": "127.0.0.1",
                    "port": smtp_port,
                    "security": "none",
                    "from_addr": "canhgac@soc.local",
                    "to": ["truc-ca@soc.local"],
                },
                "agency-hook": {"type": "webhook", "url": f"{hook.url}/hook"},
            },
            "routes": [
                {"name": "high", "match": {"min_severity": "high"}, "channels": ["soc-mail", "agency-hook"]},
                {"name": "catch-all"},
            ],
        }
    )
    settings = test_settings.model_copy(update={"notify": notify})
    runtime = Runtime(settings, stages=("normalizer", "detector", "notifier"), api=False)
    task = asyncio.create_task(runtime.run())
    await asyncio.wait_for(runtime.started.wait(), 120)
    try:
        assert runtime.collector is not None and runtime.collector.port
        # Office -> PowerShell -enc and certutil download: three high alerts (whoami is benign).
        await send_lines("127.0.0.1", runtime.collector.port, windows_lines(datetime.now(UTC), random.Random(7)))

        async def three_each() -> bool:
            return len(mailbox.messages) >= 3 and len(hook.requests) >= 3

        await eventually(three_each, timeout_secs=60)
        await asyncio.sleep(3)  # a duplicate, if any, would arrive by now
        assert len(mailbox.messages) == 3 and len(hook.requests) == 3
        subjects = sorted(str(make_header(decode_header(message_from_bytes(m)["Subject"]))) for m in mailbox.messages)
        assert any("Certutil" in s for s in subjects), subjects
        hooked = [tuple(orjson.loads(r.body)["alert_ids"]) for r in hook.requests]
        assert len(set(hooked)) == 3 and all(len(ids) == 1 for ids in hooked)
    finally:
        runtime.request_stop()
        await asyncio.wait_for(task, 60)
        await hook.stop()
        smtp.stop()
