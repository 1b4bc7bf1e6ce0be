"""Two notifier replicas (one consumer group, each its own outbox) on the real Kafka, in steady
state: alerts are keyed by id, so every record of one alert (the first emission and its updates)
reaches one replica, and each alert is notified exactly once. (Across a rebalance the new owner
does not know what the old one sent: docs/operations.md, "Notifier: one replica".)"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from canhgac.core.alert import AlertRule, Severity, build_alert
from canhgac.core.config import Settings
from canhgac.core.kafka import ensure_topics, make_producer
from canhgac.core.metrics import Metrics
from canhgac.core.notify_config import NotifyConfig
from canhgac.pipeline.notifier import NotifierStage

from tests.conftest import eventually
from tests.integration.notify.support import LocalHttpServer

pytestmark = pytest.mark.integration


def alert(i: int, count: int) -> bytes:
    now = datetime.now(UTC)
    doc = build_alert(
        alert_id=f"replica-alert-{i:03d}",
        rule=AlertRule(
            id="replica-test-rule",
            title=f"Replica test {i}",
            level=Severity.HIGH,
            author="test",
            tags=[],
            references=[],
            description="",
        ),
        agency="so-tttt",
        created_by="detector",
        first_seen=now,
        last_seen=now,
        count=count,
        group={"source.ip": f"203.0.113.{i}"},
        now=now,
    ).to_document()
    return orjson.dumps(doc)


async def test_two_notifier_replicas_notify_each_alert_once(test_settings: Settings, tmp_path: Path) -> None:
    hook = await LocalHttpServer().start()
    notify = NotifyConfig.model_validate(
        {
            "channels": {"hook": {"type": "webhook", "url": f"{hook.url}/hook"}},
            "routes": [{"name": "all", "channels": ["hook"]}],
        }
    )
    settings = test_settings.model_copy(update={"notify": notify})
    await ensure_topics(settings.kafka)
    replicas = [
        NotifierStage(settings.kafka, settings.pipeline, notify, Metrics(), data_dir=tmp_path / f"notifier-{i}")
        for i in range(2)
    ]
    stops = [asyncio.Event(), asyncio.Event()]
    tasks = [asyncio.create_task(r.run(s)) for r, s in zip(replicas, stops, strict=True)]
    producer = make_producer(settings.kafka, component="notifier", client_suffix="replica-test")
    await producer.start()
    partitions = set(range(settings.kafka.topics.partitions))
    try:

        def owned(r: NotifierStage) -> set[int]:
            return {tp.partition for tp in r.consumer.assignment()} if r.consumer is not None else set()

        async def balanced() -> bool:
            a, b = owned(replicas[0]), owned(replicas[1])
            return bool(a) and bool(b) and not a & b and a | b == partitions

        await eventually(balanced, timeout_secs=60)
        n = 20
        for count in (1, 2, 3):  # each alert, then two updates of it
            for i in range(n):
                await producer.send_and_wait(
                    settings.kafka.topics.alerts, alert(i, count), key=f"replica-alert-{i:03d}".encode()
                )

        async def all_sent() -> bool:
            return len(hook.requests) >= n

        await eventually(all_sent, timeout_secs=60)

        # Every record consumed by its replica and every outbox drained: a duplicate would be sent by now.
        async def drained() -> bool:
            for r in replicas:
                assert r.consumer is not None and r.service is not None
                for tp in r.consumer.assignment():
                    if await r.consumer.position(tp) < (r.consumer.highwater(tp) or 0):
                        return False
                waiting = r.service.outbox.counts()
                if any(waiting.get(status, 0) for status in ("pending", "retrying", "sending")):
                    return False
            return True

        await eventually(drained, timeout_secs=30)
        ids = [tuple(orjson.loads(r.body)["alert_ids"]) for r in hook.requests]
        assert len(ids) == n, ids
        assert sorted(i for (i,) in ids) == [f"replica-alert-{i:03d}" for i in range(n)]
        handled = [r.metrics.notifications.labels("sent")._value.get() for r in replicas]
        assert all(h > 0 for h in handled), f"both replicas sent a share: {handled}"
    finally:
        await producer.stop()
        for stop in stops:
            stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
        await hook.stop()
