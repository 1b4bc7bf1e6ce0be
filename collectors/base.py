"""What collectors share: the Kafka raw sink and source lookup by sender address."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from canhgac.core.config import KafkaConfig, SourceConfig
from canhgac.core.envelope import RawEnvelope
from canhgac.core.kafka import make_producer
from canhgac.core.metrics import Metrics

log = logging.getLogger(__name__)


class RawSink:
    """Sends raw envelopes to canhgac.raw.v1 (acks=all, idempotent), keyed by source id.

    `submit` returns once the record is queued in the producer (it waits when the producer's
    buffer is full: that is the collector's back-pressure); `delivered` resolves when Kafka
    acknowledged it. A failed delivery is counted, never ignored.
    """

    def __init__(self, kafka: KafkaConfig, metrics: Metrics, *, collector: str) -> None:
        self.kafka = kafka
        self.metrics = metrics
        self.collector = collector
        self.producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self.producer = make_producer(self.kafka, client_suffix=f"collector-{self.collector}")
        await self.producer.start()

    async def stop(self) -> None:
        if self.producer:
            await self.producer.stop()  # flushes what is queued

    async def submit(self, envelope: RawEnvelope) -> asyncio.Future[object]:
        assert self.producer is not None, "sink not started"
        future = await self.producer.send(
            self.kafka.topics.raw, value=envelope.to_json(), key=envelope.source_id.encode()
        )
        future.add_done_callback(self._count)
        return future

    def _count(self, future: asyncio.Future[object]) -> None:
        if future.cancelled() or future.exception() is not None:
            exc = None if future.cancelled() else future.exception()
            self.metrics.dropped.labels(f"collector-{self.collector}", "kafka_delivery_failed").inc()
            log.error("raw record not delivered to Kafka: %s", exc if exc else "cancelled")
        else:
            self.metrics.produced.labels(f"collector-{self.collector}", self.kafka.topics.raw).inc()


class SourceDirectory:
    """Finds the declared source of a sender address; unknown senders get the default, if any."""

    def __init__(
        self, sources: Sequence[SourceConfig], *, default_source_id: str | None, default_agency: str
    ) -> None:
        self.default_source_id = default_source_id
        self.default_agency = default_agency
        self._networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, SourceConfig]] = []
        for source in sources:
            for addr in source.allowed_addresses:
                self._networks.append((ipaddress.ip_network(addr, strict=False), source))

    def lookup(self, ip: str | None) -> tuple[str, str, str | None] | None:
        """(source id, agency, format) for a sender, or None when it must be refused."""
        if ip:
            try:
                address = ipaddress.ip_address(ip)
            except ValueError:
                address = None
            if address is not None:
                for network, source in self._networks:
                    if address.version == network.version and address in network:
                        return source.id, source.agency, source.format
        if self.default_source_id:
            return self.default_source_id, self.default_agency, None
        return None


def is_kafka_error(exc: BaseException) -> bool:
    return isinstance(exc, KafkaError)
