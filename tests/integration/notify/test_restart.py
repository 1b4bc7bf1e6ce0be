"""Restart the service on the same SQLite outbox while messages are pending: each is delivered
exactly once to a real HTTP receiver."""

from __future__ import annotations

import json
from pathlib import Path

from canhgac.pipeline.notify import ManualClock

from tests.integration.notify.support import LocalHttpServer, Reply, open_service, service_config
from tests.unit.notify.support import START, make_alert


async def test_each_pending_message_is_delivered_once_across_restarts(
    http_server: LocalHttpServer, tmp_path: Path
) -> None:
    config = service_config({"hook": {"type": "webhook", "url": http_server.url + "/hook"}})
    clock = ManualClock(START)
    first = open_service(tmp_path, config, clock)
    for i in range(5):
        await first.handle_alert(make_alert(f"a-{i}"))
    await first.close()  # stopped before sending anything

    http_server.script = [Reply(), Reply(503)]  # the second delivery fails once
    second = open_service(tmp_path, config, clock)
    for i in range(5):  # Kafka redelivers the uncommitted records
        assert (await second.handle_alert(make_alert(f"a-{i}"))).outcome == "duplicate"
    report = await second.run_due()
    assert (report.sent, report.retrying) == (4, 1)
    await second.close()

    clock.advance(seconds=10)
    third = open_service(tmp_path, config, clock)
    assert (await third.run_due()).sent == 1
    clock.advance(hours=1)
    assert (await third.run_due()).sent == 0
    await third.close()

    delivered = [r for r in http_server.requests if r is not http_server.requests[1]]
    keys = [r.headers["idempotency-key"] for r in delivered]
    assert len(keys) == 5 and len(set(keys)) == 5
    assert sorted(json.loads(r.body)["alert_ids"][0] for r in delivered) == [f"a-{i}" for i in range(5)]
    assert http_server.requests[1].headers["idempotency-key"] in keys  # the retry reused its key
