"""A batch Kafka never answers is spooled after `spool.kafka_timeout_ms`, so its submitters (an HTTP
request, a RELP window) are acknowledged from the disk spool instead of waiting for Kafka's return.

Found by timing the Kafka-kill test: aiokafka keeps retrying a batch whose broker died for as long as
its metadata names that broker, and the first ingest requests after the kill waited until their
client gave up (60 s each, so they were never acknowledged), although the sink promises to spool
whatever Kafka has not acknowledged within kafka_timeout_ms. Kafka is a fake that never answers."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from aiokafka import AIOKafkaProducer
from canhgac.collectors.spool.sink import SpoolingSink
from canhgac.core.config import KafkaConfig, SpoolConfig
from canhgac.core.metrics import Metrics


class SilentKafka:
    """A started producer whose batches are never acknowledged (the broker was killed)."""

    def __init__(self) -> None:
        self._real = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1")  # only builds batches
        self.in_flight: list[asyncio.Future[object]] = []

    def create_batch(self):  # type: ignore[no-untyped-def]
        return self._real.create_batch()

    async def send_batch(self, batch: object, topic: str, *, partition: int) -> asyncio.Future[object]:
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self.in_flight.append(future)
        return future


async def test_a_batch_kafka_never_acknowledges_is_spooled_after_the_timeout(tmp_path: Path) -> None:
    sink = SpoolingSink(
        KafkaConfig(), SpoolConfig(kafka_timeout_ms=1000, fsync_interval_ms=0), tmp_path, Metrics(), collector="test"
    )
    sink.spool.open()
    kafka = SilentKafka()
    sink._producer, sink._partitions, sink._direct = kafka, [0], True  # type: ignore[assignment]
    flusher = asyncio.create_task(sink._flusher())  # the spool's fsync (no pump: Kafka stays silent)
    try:
        started = time.monotonic()
        acknowledged = await sink.submit_records([(b"srv-a", b'{"seq": 1}'), (b"srv-a", b'{"seq": 2}')])
        await asyncio.wait_for(acknowledged, timeout=10)
        assert kafka.in_flight and not kafka.in_flight[0].done(), "the batch went to Kafka, which never answered"
        assert time.monotonic() - started < 5, "acknowledged from the spool soon after the 1 s timeout"
        assert sink.spooling and sink.spool.bytes_used > 0
        kafka.in_flight[0].set_exception(ConnectionError("broker gone"))  # aiokafka gives up later
        await asyncio.sleep(0.1)
        spooled = sink.spool.read(max_records=10, max_bytes=1 << 20)
        assert len(spooled.records) == 2, "spooled once, not again when Kafka finally failed the batch"
    finally:
        flusher.cancel()
        sink.spool.close()
