"""Escalation and the signed acknowledgement link, through the whole running system: an alert
not acknowledged escalates to the next level; acknowledging another through the link in its
message (GET shows a page, POST acknowledges) marks it acknowledged and stops its escalation."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

import httpx
import orjson
import pytest
from canhgac.core.notify_config import NotifyConfig
from canhgac.core.store import make_client

from canhgac.demo_feed import send_lines, windows_lines
from canhgac.runtime import Runtime
from tests.conftest import eventually
from tests.integration.notify.support import LocalHttpServer

pytestmark = pytest.mark.e2e
ESCALATE_AFTER_SECS = 12


async def test_ack_link_stops_escalation(test_settings, monkeypatch) -> None:
    monkeypatch.setenv("CANHGAC_TEST_ACK_SECRET", "khoa-bi-mat-cho-lien-ket-tiep-nhan-2026")
    oncall, boss = await LocalHttpServer().start(), await LocalHttpServer().start()
    api_base = f"http://127.0.0.1:{test_settings.api.port}"
    notify = NotifyConfig.model_validate(
        {
            "channels": {
                "oncall": {"type": "webhook", "url": f"{oncall.url}/hook"},
                "lanh-dao": {"type": "webhook", "url": f"{boss.url}/hook"},
            },
            "routes": [
                {
                    "name": "high",
                    "match": {"min_severity": "high"},
                    "channels": ["oncall"],
                    "escalation": [{"after_mins": ESCALATE_AFTER_SECS / 60, "channels": ["lanh-dao"]}],
                },
                {"name": "catch-all"},
            ],
            "ack_secret_env": "CANHGAC_TEST_ACK_SECRET",
            "ack_url_template": api_base + "/api/v1/notify/ack?token={token}",
        }
    )
    settings = test_settings.model_copy(update={"notify": notify})
    runtime = Runtime(settings, stages=("normalizer", "detector", "alert-indexer", "notifier"))
    task = asyncio.create_task(runtime.run())
    await asyncio.wait_for(runtime.started.wait(), 120)
    client = make_client(settings.opensearch, component="admin")
    try:
        assert runtime.collector is not None and runtime.collector.port
        # Two high alerts (certutil; PowerShell -enc): one will be acknowledged, one not.
        lines = windows_lines(datetime.now(UTC), random.Random(3))
        await send_lines("127.0.0.1", runtime.collector.port, [lines[2], lines[1]])

        async def first_messages() -> list[dict] | None:
            bodies = [orjson.loads(r.body) for r in oncall.requests]
            return bodies if len(bodies) >= 3 else None  # certutil + office-shell + encoded command

        bodies = await eventually(first_messages, timeout_secs=60)
        certutil = next(b for b in bodies if "Certutil" in b["title"])
        others = [b for b in bodies if b is not certutil]
        alert_id = certutil["alert_ids"][0]
        ack_url = certutil["ack_url"]
        assert ack_url.startswith(api_base)

        async with httpx.AsyncClient(timeout=30) as web:
            page = await web.get(ack_url)  # what a phone (or a mail scanner) opens: changes nothing
            assert page.status_code == 200 and "<form method='post'>" in page.text

            async def stored() -> dict:
                # {} until the alert indexer wrote it (the notifier can send before it is indexed).
                await client.indices.refresh(index=settings.opensearch.alerts_index, ignore_unavailable=True)
                found = await client.get(index=settings.opensearch.alerts_index, id=alert_id, ignore=[404])
                return found.get("_source") or {}

            await eventually(stored, timeout_secs=30)
            assert (await stored())["status"] == "new"
            token = ack_url.split("token=", 1)[1]
            done = await web.post(f"{api_base}/api/v1/notify/ack", data={"token": token})
            assert done.status_code == 200 and "Acknowledged" in done.text
            acked = await stored()
            assert acked["status"] == "acknowledged"
            assert acked["history"][-1]["by"] == "ack-link" or any(h["by"] == "ack-link" for h in acked["history"])
            tampered = await web.post(f"{api_base}/api/v1/notify/ack", data={"token": token[:-2] + "xx"})
            assert tampered.status_code == 400

        async def escalated() -> list[dict] | None:
            bodies = [orjson.loads(r.body) for r in boss.requests]
            return bodies if len(bodies) >= len(others) else None

        escalations = await eventually(escalated, timeout_secs=ESCALATE_AFTER_SECS + 45)
        await asyncio.sleep(3)
        escalated_ids = {i for b in [orjson.loads(r.body) for r in boss.requests] for i in b["alert_ids"]}
        assert alert_id not in escalated_ids  # acknowledged: no escalation
        assert escalated_ids == {i for b in others for i in b["alert_ids"]}  # the rest escalated
        assert escalations
    finally:
        await client.close()
        runtime.request_stop()
        await asyncio.wait_for(task, 60)
        await oncall.stop()
        await boss.stop()
