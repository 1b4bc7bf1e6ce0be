"""What collectors share: the Kafka raw sink and source lookup by sender address."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
from collections.abc import Sequence
from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from canhgac.core.config import KafkaConfig, Settings, SourceConfig
from canhgac.core.envelope import RawEnvelope
from canhgac.core.kafka import make_producer
from canhgac.core.metrics import Metrics
from canhgac.core.source_registry import SourceRegistry

log = logging.getLogger(__name__)


class ListenerDefaults(Protocol):
    """What a listener's settings say about senders without a declaration (syslog, RELP)."""

    @property
    def default_source_id(self) -> str | None: ...
    @property
    def default_agency(self) -> str: ...


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
        self.producer = make_producer(self.kafka, component="collectors", client_suffix=f"collector-{self.collector}")
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
            self.metrics.dropped.labels(self.collector, "kafka_delivery_failed").inc()
            log.error("raw record not delivered to Kafka: %s", exc if exc else "cancelled")
        else:
            self.metrics.produced.labels(self.collector, self.kafka.topics.raw).inc()


class SourceDirectory:
    """Finds the declared source of a sender (by address, or by HTTP ingest key).

    A sender matching no declaration gets the transport's default source when one is configured
    (development), otherwise it is refused and the caller counts `unknown_sender`.
    """

    def __init__(
        self,
        sources: Sequence[SourceConfig],
        *,
        default_source_id: str | None = None,
        default_agency: str = "unknown",
        transport: str | None = None,
    ) -> None:
        self.default_source_id = default_source_id
        self.default_agency = default_agency
        self.transport = transport
        self.sources = {s.id: s for s in sources}
        self.disabled = frozenset(s.id for s in sources if not s.enabled)
        self._networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, SourceConfig]] = []
        self._by_key_hash: dict[str, SourceConfig] = {}
        for source in sources:
            if source.ingest_key_sha256:  # all of them: a key used on the wrong transport is a 403
                self._by_key_hash[source.ingest_key_sha256] = source
            if not self.accepts(source):
                continue
            for addr in source.allowed_addresses:
                self._networks.append((ipaddress.ip_network(addr, strict=False), source))
        # Most specific network first, so a host entry wins over its agency's subnet.
        self._networks.sort(key=lambda item: -item[0].prefixlen)
        self._cache: dict[str, tuple[str, str, str | None] | None] = {}

    async def start(self) -> None:
        """A fixed directory has nothing to follow (LiveSourceDirectory re-reads declarations)."""

    async def stop(self) -> None:
        pass

    def admit(self, ip: str | None) -> tuple[tuple[str, str, str | None] | None, str]:
        """(source id, agency, format) for a sender and "", or None and why it is refused:
        `unknown_sender` (no declaration, no default) or `source_disabled` (declared, switched off).
        A disabled source's addresses still match it, so its traffic never falls to the default."""
        found = self.lookup(ip)
        if found is None:
            return None, "unknown_sender"
        if found[0] in self.disabled:
            return None, "source_disabled"
        return found, ""

    def accepts(self, source: SourceConfig) -> bool:
        return self.transport is None or not source.transports or self.transport in source.transports

    def lookup(self, ip: str | None) -> tuple[str, str, str | None] | None:
        """(source id, agency, format) for a sender, or None when it must be refused."""
        key = ip or ""
        if key in self._cache:
            return self._cache[key]
        found = self._match(ip)
        if len(self._cache) < 65_536:
            self._cache[key] = found
        return found

    def _match(self, ip: str | None) -> tuple[str, str, str | None] | None:
        if ip:
            try:
                address = ipaddress.ip_address(ip)
            except ValueError:
                address = None
            if address is not None:
                if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                    address = address.ipv4_mapped
                for network, source in self._networks:
                    if address.version == network.version and address in network:
                        return source.id, source.agency, source.format
        if self.default_source_id:
            # A declared default source keeps its own agency and format: the agency of a record is
            # what the declaration says, never the transport's fallback.
            declared = self.sources.get(self.default_source_id)
            if declared is not None:
                return declared.id, declared.agency, declared.format
            return self.default_source_id, self.default_agency, None
        return None

    def by_key(self, key: str) -> SourceConfig | None:
        """The source whose ingest key this is. Keys are long random strings, so an unsalted SHA-256
        is as good as a slow hash here and lets us find the source by its hash; the final compare is
        constant-time anyway."""
        digest = hashlib.sha256(key.encode()).hexdigest()
        source = self._by_key_hash.get(digest)
        if source is None or source.ingest_key_sha256 is None:
            return None
        return source if hmac.compare_digest(digest, source.ingest_key_sha256) else None

    def address_allowed(self, source: SourceConfig, ip: str | None) -> bool:
        """A source with declared addresses may send only from them; none declared means any."""
        if not source.allowed_addresses:
            return True
        if not ip:
            return False
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(
            address.version == net.version and address in net
            for net in (ipaddress.ip_network(a, strict=False) for a in source.allowed_addresses)
        )


class LiveSourceDirectory:
    """A SourceDirectory that follows the declared sources (core/source_registry.py): the settings
    file's and those declared, edited, disabled or deleted through the API, re-read every
    `sources_refresh_secs`. The table is rebuilt only when the declarations changed; a lookup in
    progress keeps the table it started with."""

    def __init__(
        self,
        registry: SourceRegistry,
        *,
        default_source_id: str | None = None,
        default_agency: str = "unknown",
        transport: str | None = None,
    ) -> None:
        self.registry = registry
        self.default_source_id = default_source_id
        self.default_agency = default_agency
        self.transport = transport
        self._version = -1
        self._directory = self.current()

    @classmethod
    def from_settings(cls, settings: Settings, listener: ListenerDefaults, *, transport: str) -> LiveSourceDirectory:
        """The directory a listener builds: its registry reads the API's declarations as `collectors`,
        and the listener's defaults name the source of a sender that no declaration matches."""
        registry = SourceRegistry(
            settings.sources,
            settings.collectors,
            settings.opensearch,
            component="collectors",
            refresh_secs=settings.sources_refresh_secs,
        )
        return cls(
            registry,
            default_source_id=listener.default_source_id,
            default_agency=listener.default_agency,
            transport=transport,
        )

    def current(self) -> SourceDirectory:
        if self._version != self.registry.version:
            self._version = self.registry.version
            self._directory = SourceDirectory(
                self.registry.sources(),
                default_source_id=self.default_source_id,
                default_agency=self.default_agency,
                transport=self.transport,
            )
        return self._directory

    async def start(self) -> None:
        await self.registry.start()

    async def stop(self) -> None:
        await self.registry.close()

    def lookup(self, ip: str | None) -> tuple[str, str, str | None] | None:
        return self.current().lookup(ip)

    def admit(self, ip: str | None) -> tuple[tuple[str, str, str | None] | None, str]:
        return self.current().admit(ip)

    def declared(self, source_id: str) -> SourceConfig | None:
        return self.current().sources.get(source_id)


def is_kafka_error(exc: BaseException) -> bool:
    return isinstance(exc, KafkaError)
