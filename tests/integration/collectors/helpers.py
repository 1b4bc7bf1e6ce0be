"""What the collector integration tests share: topics, reading the raw topic back, a sink."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer
from canhgac.collectors.spool.sink import SpoolingSink
from canhgac.core.config import Settings, SpoolConfig
from canhgac.core.kafka import client_security, ensure_topics
from canhgac.core.metrics import Metrics

from tests.conftest import free_port


async def read_raw(
    settings: Settings, count: int, *, timeout_secs: float = 30.0, settle_secs: float = 1.0
) -> list[dict]:
    """Every raw record up to `count` (then `settle_secs` more, so duplicates would show up)."""
    consumer = AIOKafkaConsumer(
        settings.kafka.topics.raw,
        bootstrap_servers=settings.kafka.bootstrap_servers,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **client_security(settings.kafka, "admin"),
    )
    await consumer.start()
    out: list[dict] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_secs
        settle_until: float | None = None
        while loop.time() < deadline and (settle_until is None or loop.time() < settle_until):
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            for records in batch.values():
                out += [orjson.loads(r.value) | {"_partition": r.partition, "_offset": r.offset} for r in records]
            if len(out) >= count and settle_until is None:
                settle_until = loop.time() + settle_secs
    finally:
        await consumer.stop()
    return out


async def make_sink(settings: Settings, directory: Path, *, dead_kafka: bool = False, **spool: object) -> SpoolingSink:
    kafka = settings.kafka
    if dead_kafka:
        kafka = kafka.model_copy(update={"bootstrap_servers": f"127.0.0.1:{free_port()}"})
    else:
        await ensure_topics(kafka)
    cfg = SpoolConfig(**{"fsync_interval_ms": 5, "retry_interval_secs": 0.2, "kafka_timeout_ms": 5000, **spool})  # type: ignore[arg-type]
    sink = SpoolingSink(kafka, cfg, directory, Metrics(), collector="test")
    await sink.start()
    return sink
