"""The consumer loop every stage shares: fetch a batch, process it, commit only after success.

A batch is handled whole before the next fetch, so committing "last offset + 1" per partition is
always a contiguous run of finished records. Retriable failures (OpenSearch down, Kafka
unreachable) are retried with backoff without committing; on SIGTERM the current batch is
finished (or abandoned uncommitted if its writes cannot finish) and the consumer closes, so no
record is half-done: it is either written and committed, or will be redelivered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import OffsetAndMetadata
from canhgac.core.config import Component, KafkaConfig, StageConfig, component_of
from canhgac.core.errors import BackendUnavailable, CanhgacError
from canhgac.core.kafka import make_consumer, make_producer
from canhgac.core.metrics import Metrics
from canhgac.pipeline.dlq import DeadLetters

log = logging.getLogger(__name__)


class Stage(ABC):
    name: str  # the Kafka consumer group is <group_prefix>-<name>
    max_request_bytes: int = 1024 * 1024  # the largest record the stage's producer sends

    def __init__(
        self,
        kafka: KafkaConfig,
        stage: StageConfig,
        metrics: Metrics,
        *,
        retry_backoff_max_secs: float = 30.0,
    ) -> None:
        self.kafka = kafka
        self.stage = stage
        self.metrics = metrics
        self.retry_backoff_max_secs = retry_backoff_max_secs
        self.consumer: AIOKafkaConsumer | None = None
        # Every stage writes somewhere in Kafka (its output topic, or at least dead letters): the base
        # owns the one producer, opened before start() and closed after close().
        self.producer: AIOKafkaProducer | None = None
        self.batches_done = 0
        self._lag_reported: set[TopicPartition] = set()

    @property
    def group_id(self) -> str:
        return f"{self.kafka.group_prefix}-{self.name}"

    @property
    def component(self) -> Component:
        """The principal this stage talks to Kafka and OpenSearch as (docs/security.md)."""
        return component_of(self.name)

    @abstractmethod
    def topics(self) -> list[str]: ...

    @abstractmethod
    async def process(self, records: Sequence[ConsumerRecord]) -> None:
        """Write every record downstream (or to the DLQ) before returning; raise if that failed."""

    async def start(self) -> None:
        """Open downstream clients. Called once before the loop."""

    async def close(self) -> None:
        """Flush and close downstream clients."""

    async def on_idle(self) -> None:
        """Called when a fetch returned nothing (periodic work: reload rules, expire windows)."""

    def rebalance_listener(self) -> ConsumerRebalanceListener | None:
        """Stages whose state is owned per input partition hear assignments and revocations here."""
        return None

    def dead_letters(self) -> DeadLetters:
        """A batch's dead letters; hand them to `produce_dead_letters` with the batch's writes."""
        return DeadLetters(self.name, self.metrics)

    async def produce(self, topic: str, items: Sequence[tuple[bytes | None, bytes]]) -> None:
        """Produce and wait until Kafka acknowledged every record (raises BackendUnavailable)."""
        assert self.producer is not None, "stage not started"
        await send_all(self.producer, topic, items)
        if items and topic != self.kafka.topics.dlq:
            self.metrics.produced.labels(self.name, topic).inc(len(items))

    async def produce_dead_letters(self, dead: DeadLetters) -> None:
        await self.produce(self.kafka.topics.dlq, dead.items)

    async def run(self, stop: asyncio.Event) -> None:
        self.producer = make_producer(
            self.kafka,
            component=self.component,
            client_suffix=self.name,
            max_request_bytes=self.max_request_bytes,
        )
        await self.producer.start()
        try:
            await self._run(stop)
        finally:
            await self.producer.stop()

    async def _run(self, stop: asyncio.Event) -> None:
        await self.start()
        consumer = make_consumer(
            self.kafka,
            component=self.component,
            group_id=self.group_id,
            topics=self.topics(),
            max_records=self.stage.max_batch_records,
            listener=self.rebalance_listener(),
        )
        self.consumer = consumer
        await consumer.start()
        log.info("stage %s consuming %s", self.name, ", ".join(self.topics()))
        try:
            while not stop.is_set():
                fetched = await consumer.getmany(
                    timeout_ms=self.stage.fetch_timeout_ms, max_records=self.stage.max_batch_records
                )
                if not fetched:
                    await self._report_lag(consumer)
                    await self.on_idle()
                    continue
                records = [r for tp in sorted(fetched, key=lambda t: (t.topic, t.partition)) for r in fetched[tp]]
                self.metrics.consumed.labels(self.name).inc(len(records))
                started = time.perf_counter()
                if not await self._process_until_done(records, stop):
                    break  # stopping while downstream is failing: leave the batch uncommitted
                self.metrics.batch_seconds.labels(self.name).observe(time.perf_counter() - started)
                await self._commit(consumer, {tp: recs[-1].offset + 1 for tp, recs in fetched.items()})
                self.batches_done += 1
                await self._report_lag(consumer)
        finally:
            try:
                await self.close()
            finally:
                await consumer.stop()
                log.info("stage %s stopped", self.name)

    async def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        """Lag per partition this replica owns: the last fetch's high watermark minus our position.
        Partitions a rebalance took away stop being reported (their new owner reports them)."""
        owned = consumer.assignment()
        for tp in self._lag_reported - owned:
            self.metrics.consumer_lag.remove(self.name, tp.topic, str(tp.partition))
        self._lag_reported = set()
        for tp in owned:
            highwater = consumer.highwater(tp)
            if highwater is None:  # nothing fetched from it yet
                continue
            try:
                position = await consumer.position(tp)
            except KafkaError:  # revoked meanwhile: the next report drops it
                continue
            self.metrics.consumer_lag.labels(self.name, tp.topic, str(tp.partition)).set(max(highwater - position, 0))
            self._lag_reported.add(tp)

    async def _process_until_done(self, records: Sequence[ConsumerRecord], stop: asyncio.Event) -> bool:
        delay = 0.2
        while True:
            try:
                await self.process(records)
                return True
            except CanhgacError as exc:
                if not exc.retriable:
                    raise
                self.metrics.retries.labels(self.name).inc()
                self.metrics.errors.labels(self.name, type(exc).__name__).inc()
                log.warning("stage %s: %s; retrying in %.1fs", self.name, exc, delay)
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
                return False
            except TimeoutError:
                delay = min(delay * 2, self.retry_backoff_max_secs)

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        try:
            await consumer.commit({tp: OffsetAndMetadata(off, "") for tp, off in offsets.items()})
        except (CommitFailedError, KafkaError) as exc:
            # A rebalance took the partitions away: the new owner re-reads from the last commit.
            # Downstream writes are idempotent, so the redelivery rewrites, never duplicates.
            self.metrics.errors.labels(self.name, "commit_failed").inc()
            log.warning("stage %s: commit failed (%s); records will be redelivered", self.name, exc)


async def send_all(producer: AIOKafkaProducer, topic: str, items: Sequence[tuple[bytes | None, bytes]]) -> None:
    """Produce many records and wait until Kafka acknowledged every one of them."""
    try:
        futures = [await producer.send(topic, value=value, key=key) for key, value in items]
        if futures:
            await asyncio.gather(*futures)
    except KafkaError as exc:
        raise BackendUnavailable(f"Kafka produce to {topic} failed: {exc}") from exc
