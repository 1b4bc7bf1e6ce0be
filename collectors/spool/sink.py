"""The raw sink every collector writes to: Kafka when it answers, the disk spool when it does not.

Modes. *Direct*: records go to Kafka (acks=all, idempotent) in producer batches built per partition.
*Spooling*: records are appended to the on-disk spool and acknowledged once fsync'd; a pump replays
the spool to Kafka in append order and commits the spool cursor only after Kafka acknowledged.
The sink spools from the moment Kafka fails (start-up connect error, or a batch not acknowledged
within `kafka_timeout_ms`) until the spool is empty again, so new records never overtake spooled
ones. Records that were already in the producer when Kafka failed are spooled as they fail, which
may put them behind a few newer records: order holds per source except across that instant.

Acknowledged means in Kafka or fsync'd in the spool. A crash during replay re-sends the records
after the last committed cursor: at least once; the normalizer derives event ids from raw ids, so
the index ends up with one copy. When the spool is full, `submit(wait=True)` waits (TCP stops
reading) and `submit(wait=False)` raises `Overloaded` (HTTP answers 503, UDP counts a drop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, KafkaTimeoutError
from aiokafka.partitioner import DefaultPartitioner
from canhgac.collectors.spool.segments import SegmentSpool, encode_record
from canhgac.core.config import KafkaConfig, SpoolConfig
from canhgac.core.envelope import RawEnvelope
from canhgac.core.errors import BackendUnavailable, Overloaded
from canhgac.core.kafka import make_producer
from canhgac.core.metrics import Metrics

log = logging.getLogger(__name__)
Record = tuple[bytes, bytes]  # (key, value)
_REPLAY_RECORDS = 5000
_REPLAY_BYTES = 4 * 1024 * 1024


class SpoolingSink:
    def __init__(
        self, kafka: KafkaConfig, cfg: SpoolConfig, directory: Path, metrics: Metrics, *, collector: str
    ) -> None:
        self.kafka = kafka.model_copy(update={"request_timeout_ms": cfg.kafka_timeout_ms})
        self.cfg = cfg
        self.metrics = metrics
        self.collector = collector
        self.stage = collector  # its `stage` label (core/metrics.py: one name per component)
        self.topic = kafka.topics.raw
        self.spool = SegmentSpool(directory, max_bytes=cfg.max_bytes, segment_bytes=cfg.segment_bytes)
        self._producer: AIOKafkaProducer | None = None
        self._partitions: list[int] = []
        self._partition_of: dict[bytes, int] = {}
        self._direct = False
        self._closing = False
        self._pending: list[tuple[bytes, int, asyncio.Future[None]]] = []
        self._pending_bytes = 0
        self._flush_wanted = asyncio.Event()
        self._pump_wake = asyncio.Event()
        self._room_freed = asyncio.Event()
        # Direct mode accumulates records into one open producer batch per partition; a flusher per
        # partition hands it to the producer while the previous one is in flight, so batches grow
        # with load (up to max_batch_bytes) instead of one small batch per read.
        self._open: dict[int, _Open] = {}
        self._full: dict[int, deque[_Open]] = {}
        self._flushers: dict[int, asyncio.Task[None]] = {}
        self._flush_signal: dict[int, asyncio.Event] = {}
        self._room: dict[int, asyncio.Event] = {}
        self._unsettled: set[asyncio.Future[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        self.spool.open()
        if self.spool.torn_bytes:
            # Bytes of a record whose append never completed: it was never acknowledged.
            self.metrics.errors.labels(self.stage, "spool_torn_tail").inc()
            log.warning("%s spool: cut %d bytes of a torn append", self.collector, self.spool.torn_bytes)
        await self._connect()
        self._direct = self._producer is not None and self.spool.is_empty()
        if not self.spool.is_empty():
            log.info("%s spool holds %d bytes to replay", self.collector, self.spool.bytes_used)
        self._update_gauge()
        self._tasks = [
            asyncio.create_task(self._pump(), name=f"{self.collector}-spool-pump"),
            asyncio.create_task(self._flusher(), name=f"{self.collector}-spool-flush"),
        ]

    async def stop(self) -> None:
        """Finish in-flight sends (or spool them), make the spool durable, close Kafka."""
        self._closing = True
        for signal in self._flush_signal.values():
            signal.set()
        await asyncio.sleep(0)  # let flushers hand the open batches to the producer
        if self._unsettled:
            await asyncio.wait(self._unsettled, timeout=self.cfg.kafka_timeout_ms / 1000 + 5)
        await self._flush()
        for task in [*self._tasks, *self._flushers.values()]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._flushers.values(), return_exceptions=True)
        self.spool.close()
        if self._producer:
            with contextlib.suppress(KafkaError, TimeoutError, OSError):
                await asyncio.wait_for(self._producer.stop(), self.cfg.kafka_timeout_ms / 1000)

    @property
    def spooling(self) -> bool:
        return not self._direct

    # -- submit ------------------------------------------------------------------------------------
    async def submit(self, envelopes: Sequence[RawEnvelope], *, wait: bool = True) -> asyncio.Future[None]:
        """Accept envelopes; the returned future resolves once they are acknowledged (see module doc).

        Returns after the records are queued; raises `Overloaded` only with `wait=False`.
        """
        return await self.submit_records([(e.source_id.encode(), e.to_json()) for e in envelopes], wait=wait)

    async def submit_records(self, records: list[Record], *, wait: bool = True) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        if not records:
            done: asyncio.Future[None] = loop.create_future()
            done.set_result(None)
            return done
        if self._direct:
            return await self._submit_direct(records, wait=wait)
        return await self._spool_when_room(records, wait=wait)

    async def _submit_direct(self, records: list[Record], *, wait: bool) -> asyncio.Future[None]:
        assert self._producer is not None
        touched: list[asyncio.Future[None]] = []
        partitions: set[int] = set()
        for n, (key, value) in enumerate(records):
            if not self._direct:  # Kafka failed while we waited for room: the rest goes behind it
                touched.append(await self._spool_when_room(records[n:], wait=wait))
                break
            partition = self._partition(key)
            partitions.add(partition)
            spill = False
            while True:
                batch = self._open.get(partition)
                if batch is None:
                    batch = self._open[partition] = _Open(self._producer)
                if batch.builder.append(key=key, value=value, timestamp=None) is not None:
                    break
                if not batch.records:  # larger than a whole producer batch: Kafka would refuse it
                    self.metrics.dropped.labels(self.stage, "record_too_large").inc()
                    batch = None
                    break
                full = self._full.setdefault(partition, deque())
                full.append(self._open.pop(partition))
                self._wake_flusher(partition)
                while len(full) > 1 and self._direct:  # back-pressure: one full batch waiting is enough
                    room = self._room.setdefault(partition, asyncio.Event())
                    room.clear()
                    await room.wait()
                if not self._direct:
                    spill = True
                    break
            if spill:
                touched.append(await self._spool_when_room(records[n:], wait=wait))
                break
            if batch is None:
                continue
            batch.records.append((key, value))
            if not touched or touched[-1] is not batch.done:
                touched.append(batch.done)
        for partition in partitions:
            self._wake_flusher(partition)
        combined = asyncio.ensure_future(_all(*touched))
        combined.add_done_callback(_retrieve)
        return combined

    def _partition(self, key: bytes) -> int:
        partition = self._partition_of.get(key)
        if partition is None:
            partition = DefaultPartitioner()(key, self._partitions, self._partitions)
            self._partition_of[key] = partition
        return partition

    def _wake_flusher(self, partition: int) -> None:
        if partition not in self._flushers:
            self._flush_signal[partition] = asyncio.Event()
            self._flushers[partition] = asyncio.create_task(self._flush_partition(partition))
        self._flush_signal[partition].set()

    async def _flush_partition(self, partition: int) -> None:
        signal = self._flush_signal[partition]
        while True:
            await signal.wait()
            signal.clear()
            while True:
                full = self._full.get(partition)
                if full:
                    batch = full.popleft()
                    self._room.setdefault(partition, asyncio.Event()).set()
                elif partition in self._open and self._open[partition].records:
                    batch = self._open.pop(partition)
                else:
                    break
                if not self._direct or self._producer is None:
                    self._spool_batch(batch)
                    continue
                self._unsettled.add(batch.done)
                batch.done.add_done_callback(self._unsettled.discard)
                try:
                    # Waits while this partition's previous batch is in flight: that is the pipelining.
                    sent = await self._producer.send_batch(batch.builder, self.topic, partition=partition)
                except KafkaError as exc:
                    self._go_spooling(exc)
                    self._spool_batch(batch)
                    continue
                # aiokafka keeps retrying a batch whose broker died for as long as its metadata still
                # names that broker: without a deadline its submitters (an HTTP request) would wait
                # until Kafka came back. Past kafka_timeout_ms the batch is spooled (acknowledged
                # once fsync'd); if Kafka takes it later too, the copy is one raw id twice, which the
                # normalizer's event ids make one stored event.
                overdue = asyncio.get_running_loop().call_later(
                    self.cfg.kafka_timeout_ms / 1000, self._batch_overdue, sent, batch
                )
                sent.add_done_callback(lambda f, b=batch, t=overdue: self._batch_done(f, b, t))

    def _batch_overdue(self, sent: asyncio.Future[object], batch: _Open) -> None:
        if not sent.done():
            self._go_spooling(KafkaTimeoutError(f"batch not acknowledged in {self.cfg.kafka_timeout_ms} ms"))
            self._spool_batch(batch)

    def _batch_done(self, sent: asyncio.Future[object], batch: _Open, overdue: asyncio.TimerHandle) -> None:
        overdue.cancel()
        exc = None if sent.cancelled() else sent.exception()
        if sent.cancelled() or exc is not None:
            self._go_spooling(exc or asyncio.CancelledError())
            self._spool_batch(batch)
            return
        if batch.spooled:
            return  # overdue, spooled, then taken by Kafka after all: counted when the spool replays it
        self.metrics.produced.labels(self.stage, self.topic).inc(len(batch.records))
        if not batch.done.done():
            batch.done.set_result(None)

    def _spool_batch(self, batch: _Open) -> None:
        """Records Kafka did not take: into the spool; the batch's waiters resolve when fsync'd."""
        if batch.spooled:
            return
        batch.spooled = True
        try:
            spooled = self._enqueue(batch.records)
        except Overloaded as exc:
            self.metrics.dropped.labels(self.stage, "spool_full").inc(len(batch.records))
            if not batch.done.done():
                batch.done.set_exception(exc)
            return
        spooled.add_done_callback(lambda f: _copy_outcome(f, batch.done))

    async def _send(
        self, records: list[Record]
    ) -> tuple[list[tuple[asyncio.Future[object], list[Record]]], list[Record]]:
        """Queue records in the producer, a batch per partition; what could not be queued is returned."""
        producer = self._producer
        assert producer is not None
        groups: dict[int, list[Record]] = {}
        for record in records:
            partition = self._partition(record[0])
            groups.setdefault(partition, []).append(record)
        sent: list[tuple[asyncio.Future[object], list[Record]]] = []
        unsent: list[Record] = []
        for partition, group in groups.items():
            if unsent:
                unsent += group
                continue
            batch, start = producer.create_batch(), 0
            try:
                for i, (key, value) in enumerate(group):
                    if batch.append(key=key, value=value, timestamp=None) is not None:
                        continue
                    if i > start:
                        sent.append(
                            (
                                await producer.send_batch(batch, self.topic, partition=partition),
                                group[start:i],
                            )
                        )
                    batch, start = producer.create_batch(), i
                    if batch.append(key=key, value=value, timestamp=None) is None:
                        # Larger than a whole producer batch: Kafka would refuse it too.
                        self.metrics.dropped.labels(self.stage, "record_too_large").inc()
                        batch, start = producer.create_batch(), i + 1
                if start < len(group):
                    sent.append((await producer.send_batch(batch, self.topic, partition=partition), group[start:]))
            except KafkaError as exc:
                self._go_spooling(exc)
                unsent += group[start:]
        return sent, unsent

    # -- spool ------------------------------------------------------------------------------------
    async def _spool_when_room(self, records: list[Record], *, wait: bool) -> asyncio.Future[None]:
        while True:
            try:
                return self._enqueue(records)
            except Overloaded:
                if not wait:
                    raise
            self._room_freed.clear()
            await self._room_freed.wait()

    def _enqueue(self, records: list[Record]) -> asyncio.Future[None]:
        encoded = b"".join(encode_record(k, v) for k, v in records)
        if self.spool.bytes_used + self._pending_bytes + len(encoded) > self.cfg.max_bytes:
            raise Overloaded(f"{self.collector} spool full ({self.cfg.max_bytes} bytes)")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((encoded, len(records), future))
        self._pending_bytes += len(encoded)
        self._flush_wanted.set()
        return future

    async def _flusher(self) -> None:
        while True:
            await self._flush_wanted.wait()
            self._flush_wanted.clear()
            if self.cfg.fsync_interval_ms:
                await asyncio.sleep(self.cfg.fsync_interval_ms / 1000)  # group commit
            await self._flush()

    async def _flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        try:
            for encoded, _n, _f in pending:
                self.spool.append(encoded)
            await asyncio.to_thread(self.spool.sync)
        except OSError as exc:
            log.error("%s spool write failed: %s", self.collector, exc)
            for _e, n, future in pending:
                self.metrics.dropped.labels(self.stage, "spool_write_failed").inc(n)
                if not future.done():
                    future.set_exception(BackendUnavailable(f"spool write failed: {exc}"))
            return
        for _e, n, future in pending:
            self.metrics.spooled.labels(self.collector).inc(n)
            if not future.done():
                future.set_result(None)
        self._update_gauge()
        self._pump_wake.set()

    def _go_spooling(self, exc: BaseException) -> None:
        if self._direct:
            log.warning("%s: Kafka not acknowledging (%s); spooling to disk", self.collector, exc)
            self.metrics.errors.labels(self.stage, "kafka_unavailable").inc()
        self._direct = False
        # Records still waiting in open batches go to the spool now, ahead of anything newer.
        for partition in list(self._full):
            while self._full[partition]:
                self._spool_batch(self._full[partition].popleft())
        for batch in list(self._open.values()):
            self._spool_batch(batch)
        self._open.clear()
        for room in self._room.values():
            room.set()
        self._pump_wake.set()

    # -- replay -----------------------------------------------------------------------------------
    async def _connect(self) -> bool:
        producer = make_producer(self.kafka, component="collectors", client_suffix=f"collector-{self.collector}")
        timeout = self.cfg.kafka_timeout_ms / 1000
        try:
            await asyncio.wait_for(producer.start(), timeout)
            partitions = await asyncio.wait_for(producer.partitions_for(self.topic), timeout)
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("%s: Kafka unreachable at %s: %s", self.collector, self.kafka.bootstrap_servers, exc)
            with contextlib.suppress(Exception):  # a half-started client may fail to close; it is dropped
                await producer.stop()
            return False
        self._producer, self._partitions = producer, sorted(partitions)
        return True

    async def _pump(self) -> None:
        while True:
            if self._producer is None and not await self._connect():
                await asyncio.sleep(self.cfg.retry_interval_secs)
                continue
            if self.spool.is_empty() and not self._pending:
                if not self._direct and not self._closing:
                    log.info("%s: spool drained; sending straight to Kafka", self.collector)
                    self._direct = True
                self._pump_wake.clear()
                await self._pump_wake.wait()
                continue
            batch = self.spool.read(max_records=_REPLAY_RECORDS, max_bytes=_REPLAY_BYTES)
            if batch.corrupt_skipped:
                self.metrics.errors.labels(self.stage, "spool_corrupt_segment").inc()
                log.error("%s spool: corrupt record; rest of its segment skipped", self.collector)
            if not batch.records and batch.end == self.spool.cursor:
                self._pump_wake.clear()  # appended but not yet durable: the flusher wakes us
                await self._pump_wake.wait()
                continue
            try:
                sent, unsent = await self._send(batch.records)
                if unsent:
                    raise BackendUnavailable("producer refused the replay batch")
                await asyncio.wait_for(asyncio.gather(*(f for f, _ in sent)), self.cfg.kafka_timeout_ms / 1000 + 1)
            except (KafkaError, BackendUnavailable, TimeoutError) as exc:
                self.metrics.retries.labels(self.stage).inc()
                log.warning("%s: spool replay failed (%s); retrying", self.collector, exc)
                await asyncio.sleep(self.cfg.retry_interval_secs)
                continue
            self.spool.commit(batch.end)
            self.metrics.produced.labels(self.stage, self.topic).inc(len(batch.records))
            self._update_gauge()
            self._room_freed.set()

    def _update_gauge(self) -> None:
        self.metrics.spool_bytes.labels(self.collector).set(self.spool.bytes_used)


async def _all(*futures: asyncio.Future[None]) -> None:
    await asyncio.gather(*futures)


class _Open:
    """A producer batch being filled for one partition, and the future its submitters wait on."""

    __slots__ = ("builder", "done", "records", "spooled")

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.builder = producer.create_batch()
        self.records: list[Record] = []
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.spooled = False  # handed to the spool (once: a late failure must not spool it again)


def _copy_outcome(source: asyncio.Future[None], target: asyncio.Future[None]) -> None:
    if target.done():
        return
    if source.cancelled():
        target.cancel()
    elif (exc := source.exception()) is not None:
        target.set_exception(exc)
    else:
        target.set_result(None)


def _retrieve(future: asyncio.Future[None]) -> None:
    # Fire-and-forget callers (syslog TCP/UDP) never await; failures are counted where they happen.
    if not future.cancelled():
        future.exception()
