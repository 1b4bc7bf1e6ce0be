"""Publishes analysts' alert changes to canhgac.alerts.v1.

The notifier consumes that topic: an alert whose status is no longer `new` stops its escalation,
whichever process the API runs in. The alert indexer ignores these records (the count did not
grow), since the API already wrote the change to OpenSearch.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from canhgac.core.config import KafkaConfig
from canhgac.core.kafka import make_producer

log = logging.getLogger(__name__)


PUBLISH_TIMEOUT_SECS = 3.0
# After a failure, skip publishing for a while: an analyst's click must not wait on a dead Kafka.
BACKOFF_SECS = 30.0


class AlertPublisher:
    def __init__(self, kafka: KafkaConfig) -> None:
        self.kafka = kafka
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._paused_until = 0.0
        self._pending: set[asyncio.Task[bool]] = set()

    def publish_soon(self, alert: dict[str, Any]) -> None:
        task = asyncio.get_running_loop().create_task(self.publish(alert))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _started(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = make_producer(self.kafka, component="api", client_suffix="api")
                await producer.start()
                self._producer = producer
            return self._producer

    async def publish(self, alert: dict[str, Any]) -> bool:
        """True when Kafka acknowledged; False (logged) when it could not, e.g. Kafka is down:
        the change is saved in OpenSearch either way, only escalation may go on."""
        try:
            producer = await self._started()
            await producer.send_and_wait(self.kafka.topics.alerts, orjson.dumps(alert), key=str(alert["id"]).encode())
            return True
        except (KafkaError, OSError) as exc:
            log.warning("could not publish the change of alert %s: %s", alert.get("id"), exc)
            return False

    async def close(self) -> None:
        if self._pending:
            await asyncio.wait(self._pending, timeout=PUBLISH_TIMEOUT_SECS * 2)
        if self._producer is not None:
            await self._producer.stop()
