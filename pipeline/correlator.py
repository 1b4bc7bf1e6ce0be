"""Correlator stage: canhgac.correlation-input.v1 -> correlation windows -> canhgac.alerts.v1.

The detector publishes every match a correlation rule can count keyed by the rule family and its
group values (rules/correlation_routing.py), so one partition of the input topic holds every match
that can share a window, and the replica that owns the partition alone keeps those windows.

State is owned per input partition, as Kafka Streams keeps a task's store: each partition has its
own correlation engine, and its checkpoint is written to the compacted changelog topic (same
partition number, key = the partition) with the input offset it covers. Like Kafka Streams'
commit interval, a checkpoint is written at most every `rules.correlation_checkpoint_interval_secs`
(and when the input goes idle, and before a partition is handed over), not after every batch: a
checkpoint holds every open window of the partition, and writing it per batch cost two thirds of
the detector process's CPU once a province's windows filled (bench/bench_province.py). The input
offsets committed never pass the offset the partition's newest checkpoint covers, so a replica
that is assigned a partition restores that checkpoint, is given the input from there on (or
later), and skips what it covers: a rebalance (a replica added, stopped or killed) neither loses a
window nor counts a match twice. What a killed replica counted after its last checkpoint is
counted again by its successor, the same way, so the alerts it had sent are sent again with the
same ids (the alert indexer upserts them, the notifier knows them by id).

A record is counted (its partition's `next_offset` moves past it, its windows change) as soon as it
is read, so what it owes Kafka — its alerts, its dead letter, then the checkpoint — is kept per
partition until Kafka acknowledged it, and sent again with the next batch or idle round: the stage
loop retries a failed batch on this same stage, which skips the records already counted and would
not raise their alerts a second time. A revoked partition's debts are dropped: its new owner
counts those records again from the last checkpoint, which does not hold them.

After each batch with matches the detector also sends every partition a watermark record (each
source partition's newest matched event time), so lateness and the closing of windows follow the
sources' time as one detector saw it, whichever partition a group was routed to.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from canhgac.core.config import Component
from canhgac.core.errors import BackendUnavailable, ConfigError
from canhgac.core.kafka import CHANGELOG_MAX_BYTES, make_reader
from canhgac.pipeline.alerts import alert_from_correlation, parse_ts
from canhgac.pipeline.detector import ADVANCE_INTERVAL_SECS, DetectorStage
from canhgac.pipeline.dlq import DeadLetters
from canhgac.rules.correlation import CorrelationEngine

log = logging.getLogger(__name__)

OFFSET_HEADER = "input-offset"
# Checkpoints get at most about 1/CHECKPOINT_SHARE_DIVISOR of the stage's time: a partition whose
# windows take long to encode is checkpointed less often than the configured interval.
CHECKPOINT_SHARE_DIVISOR = 10
RESTORE_TIMEOUT_SECS = 60.0


@dataclass(frozen=True, slots=True)
class MatchedRule:
    """A base rule an event matched, as the detector reported it (RuleLike)."""

    id: str
    name: str | None
    title: str


@dataclass
class PartitionState:
    engine: CorrelationEngine
    next_offset: int  # input records below this are already counted in `engine`
    # Input records below this are in the changelog's newest checkpoint: offsets are committed up
    # to here at most (-1: the offset the state was created or restored at).
    checkpointed_offset: int = -1
    committed_offset: int = -1  # what this replica last committed for the partition
    checkpointed_at: float = float("-inf")  # time.monotonic() of the newest checkpoint written
    windows_closed: bool = False  # windows closed while idle since the newest checkpoint
    checkpoint_secs: float = 0.0  # what encoding the newest checkpoint took (process time)

    def __post_init__(self) -> None:
        if self.checkpointed_offset < 0:
            self.checkpointed_offset = self.next_offset

    @property
    def dirty(self) -> bool:
        """Counted records (or windows closed while idle) the changelog does not hold yet."""
        return self.next_offset > self.checkpointed_offset or self.windows_closed


@dataclass
class Owed:
    """What a partition's counted records still owe Kafka, in the order it is sent: alerts (each
    with the event that last raised it; None for a window closed while idle), then dead letters.
    The partition's checkpoint follows when due (PartitionState.dirty), never while it owes these."""

    state: PartitionState
    dead: DeadLetters
    alerts: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = field(default_factory=dict)


class _Ownership(ConsumerRebalanceListener):
    def __init__(self, stage: CorrelatorStage) -> None:
        self.stage = stage

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Hand the partitions over checkpointed (best effort: without it the next owner counts the
        # records since the last checkpoint again, from the offsets committed with it).
        await self.stage.checkpoint_before_handover({tp.partition for tp in revoked})
        for tp in revoked:
            self.stage.owned.pop(tp.partition, None)
        if revoked:
            log.info("correlator: released partitions %s", sorted(tp.partition for tp in revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        # Restored before the partition's first batch (process), where a failure is retried.
        for tp in assigned:
            self.stage.owned.setdefault(tp.partition, None)
        if assigned:
            log.info("correlator: assigned partitions %s", sorted(tp.partition for tp in assigned))


class CorrelatorStage(DetectorStage):
    name = "correlator"
    max_request_bytes = CHANGELOG_MAX_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owned: dict[int, PartitionState | None] = {}  # None: assigned, not yet restored
        self._owed: dict[int, Owed] = {}  # partition -> what its counted records owe Kafka
        self.reader: AIOKafkaConsumer | None = None
        self.restored_partitions = 0

    @property
    def component(self) -> Component:
        return "detector"  # the detector's principal: it reads and writes the correlation topics

    def topics(self) -> list[str]:
        return [self.kafka.topics.correlation]

    def rebalance_listener(self) -> ConsumerRebalanceListener:
        return _Ownership(self)

    def new_engine(self) -> CorrelationEngine:
        rules = self.load_result.correlation_rules if self.load_result is not None else []
        return CorrelationEngine.from_sigma(
            rules, allowed_lateness_secs=self.rules_cfg.correlation_allowed_lateness_secs
        )

    def load(self, *, files: bool = True) -> None:
        super().load(files=files)
        # Each owned partition's windows carry over to the new rule set; a changed rule starts empty.
        for state in self.owned.values():
            if state is not None:
                engine = self.new_engine()
                engine.restore(state.engine.checkpoint())
                state.engine = engine

    async def start(self) -> None:
        await super().start()
        self.reader = make_reader(self.kafka, component=self.component, client_suffix=f"{self.name}-restore")
        try:
            await self.reader.start()
        except KafkaError as exc:
            raise BackendUnavailable(f"Kafka unreachable for the correlation changelog: {exc}") from exc

    async def close(self) -> None:
        try:
            if self.reader is not None:
                await self.reader.stop()
        finally:
            await super().close()

    async def _restore(self, partition: int) -> PartitionState:
        """The newest checkpoint of `partition` in the changelog, or empty windows."""
        assert self.reader is not None
        tp = TopicPartition(self.kafka.topics.correlation_state, partition)
        key = str(partition).encode()
        newest: ConsumerRecord | None = None
        try:
            self.reader.assign([tp])
            end = (await self.reader.end_offsets([tp]))[tp]
            if end > 0:
                await self.reader.seek_to_beginning(tp)
                deadline = time.monotonic() + RESTORE_TIMEOUT_SECS
                while await self.reader.position(tp) < end:
                    if time.monotonic() > deadline:
                        raise BackendUnavailable(f"restoring correlation partition {partition} timed out")
                    fetched = await self.reader.getmany(tp, timeout_ms=500)
                    for record in fetched.get(tp, []):
                        if record.key == key and record.offset < end:
                            newest = record
        except KafkaError as exc:
            raise BackendUnavailable(f"reading the correlation changelog failed: {exc}") from exc
        engine = self.new_engine()
        next_offset = 0
        if newest is not None and newest.value is not None:
            headers = dict(newest.headers or ())
            next_offset = int(headers.get(OFFSET_HEADER, b"0"))
            try:
                engine.restore(newest.value)
            except ConfigError:  # a corrupt checkpoint costs open windows, not the stage
                log.exception("correlation partition %d: changelog state unreadable; empty windows", partition)
        self.restored_partitions += 1
        log.info("correlator: partition %d restored (input from offset %d)", partition, next_offset)
        return PartitionState(engine, next_offset)

    async def _state(self, partition: int) -> PartitionState:
        state = self.owned.get(partition)
        if state is None:
            state = await self._restore(partition)
            self.owned[partition] = state
        return state

    async def checkpoint_before_handover(self, partitions: set[int]) -> None:
        states = {p: s for p, s in self.owned.items() if p in partitions and s is not None}
        # A partition that still owes alerts is not checkpointed: the checkpoint would count records
        # whose alerts were never acknowledged (its next owner recounts them and sends them).
        ready = {p: s for p, s in states.items() if s.dirty and p not in self._owed}
        try:
            for p, state in ready.items():
                await self._checkpoint(p, state)
            await self._commit_checkpointed(states)
        except (BackendUnavailable, KafkaError) as exc:
            log.warning("correlator: handing partitions %s over without a last checkpoint: %s", sorted(ready), exc)

    async def _checkpoint(self, partition: int, state: PartitionState) -> None:
        offset = state.next_offset
        state.windows_closed = False  # set again if a window closes while the checkpoint is written
        try:
            await self._write_changelog(partition, state)
        except BaseException:
            state.windows_closed = True
            raise
        if self.owned.get(partition) is state:
            state.checkpointed_offset, state.checkpointed_at = offset, time.monotonic()

    async def _checkpoint_due(self, *, force: bool = False) -> None:
        """Write the checkpoint of every owned partition with counted records the changelog does
        not hold, when the interval since its last one has passed (`force`: now)."""
        interval = self.rules_cfg.correlation_checkpoint_interval_secs
        share = CHECKPOINT_SHARE_DIVISOR * len(self.owned)
        now = time.monotonic()
        due = [
            (p, s)
            for p, s in self.owned.items()
            if s is not None
            and s.dirty
            and p not in self._owed
            and (force or now - s.checkpointed_at >= max(interval, s.checkpoint_secs * share))
        ]
        await asyncio.gather(*(self._checkpoint(p, s) for p, s in due))

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        """The stage loop's commit, held back to what each partition's newest checkpoint covers."""
        states = {tp: s for tp in offsets if (s := self.owned.get(tp.partition)) is not None}
        covered = {tp: o for tp, s in states.items() if (o := min(offsets[tp], s.checkpointed_offset)) > 0}
        if covered:
            await super()._commit(consumer, covered)
            for tp, offset in covered.items():
                states[tp].committed_offset = max(states[tp].committed_offset, offset)

    async def _commit_checkpointed(self, states: dict[int, PartitionState]) -> None:
        """Commit what checkpoints written outside a batch cover (idle, before a handover)."""
        if self.consumer is None:
            return
        topic = self.kafka.topics.correlation
        offsets = {
            TopicPartition(topic, p): s.checkpointed_offset
            for p, s in states.items()
            if s.checkpointed_offset > s.committed_offset
        }
        if offsets:
            await self._commit(self.consumer, offsets)

    async def _write_changelog(self, partition: int, state: PartitionState) -> None:
        assert self.producer is not None, "stage not started"
        if self.owned.get(partition) is not state:
            return  # revoked meanwhile: the new owner's checkpoint must not be overwritten by ours
        started = time.process_time()
        value = state.engine.checkpoint()
        state.checkpoint_secs = time.process_time() - started
        self.metrics.correlation_checkpoint_bytes.labels(str(partition)).set(len(value))
        try:
            sent = await self.producer.send(
                self.kafka.topics.correlation_state,
                value=value,
                key=str(partition).encode(),
                partition=partition,
                headers=[(OFFSET_HEADER, str(state.next_offset).encode())],
            )
            await sent
        except KafkaError as exc:
            raise BackendUnavailable(f"writing the correlation changelog failed: {exc}") from exc

    async def process(self, records: Sequence[ConsumerRecord]) -> None:
        await self._maybe_reload()
        exceptions, now = self.config.exceptions, datetime.now(UTC)
        touched: dict[int, PartitionState] = {}
        for record in records:
            if record.partition not in self.owned:
                continue  # revoked meanwhile: its new owner reads it (this batch's commit fails)
            state = await self._state(record.partition)
            if record.offset < state.next_offset:
                continue  # counted before a handover: its checkpoint already holds it
            state.next_offset = record.offset + 1
            touched[record.partition] = state
            owed = self._owe(record.partition, state)
            try:
                item = orjson.loads(record.value)
                if "watermark" in item:  # the detector's source partitions' event times
                    for source_partition, ts_text in item["watermark"].items():
                        state.engine.note_time(int(source_partition), parse_ts(ts_text))
                    continue
                event = item["event"]
                matched = [MatchedRule(str(m["id"]), m.get("name"), str(m["title"])) for m in item["matched"]]
                feeds = {(str(key), int(pos)) for key, pos in item["feeds"]}
                ts, source_partition = parse_ts(item["ts"]), int(item["partition"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                owed.dead.add(record.key, "bad_correlation_input", repr(exc), record.value)
                continue
            found = state.engine.observe(event, matched, ts, source_partition, feeds=feeds)
            for alert_found in self._not_excepted_correlations(found, event, exceptions, now):
                alert = alert_from_correlation(alert_found.to_dict(), event)
                if not alert_found.is_update:
                    self.metrics.alerts_raised.labels(alert["severity"]).inc()
                owed.alerts[alert["id"]] = (alert, event)
        for state in touched.values():
            for rule_id, count in state.engine.late_counts().items():
                self.metrics.correlation_late_events.labels(rule_id).inc(count)
        await self._settle()

    def _owe(self, partition: int, state: PartitionState) -> Owed:
        owed = self._owed.get(partition)
        if owed is None or owed.state is not state:  # none yet, or a restored state's: start anew
            owed = self._owed[partition] = Owed(state, self.dead_letters())
        return owed

    async def _settle(self) -> None:
        """Send what the counted records owe (see the module): kept until Kafka acknowledged it."""
        # A partition revoked (or revoked and restored again) meanwhile: its new owner recounts.
        self._owed = {p: o for p, o in self._owed.items() if self.owned.get(p) is o.state}
        owed = dict(self._owed)
        alerts = [pair for o in owed.values() for pair in o.alerts.values()]
        items = [(a["id"].encode(), orjson.dumps(a, option=orjson.OPT_NON_STR_KEYS)) for a, _ in alerts]
        await self.produce(self.kafka.topics.alerts, items)
        for o in owed.values():
            o.alerts.clear()
        self._observe_latency(event for _, event in alerts if event is not None)
        dead = self.dead_letters()
        dead.items = [item for o in owed.values() for item in o.dead.items]
        await self.produce_dead_letters(dead)
        for o in owed.values():
            o.dead.items.clear()
        for p, o in owed.items():
            if self._owed.get(p) is o:
                del self._owed[p]
        # Alerts first, then (when due) the state that produced them, then (the stage loop) the
        # offsets that state covers.
        await self._checkpoint_due()

    async def on_idle(self) -> None:
        await self._maybe_reload()
        if self.producer is None or time.monotonic() < self._next_advance:
            return
        # The input went quiet: checkpoint what was counted since the last checkpoint and commit
        # the offsets it covers (the group is caught up once its windows are in the changelog).
        try:
            await self._checkpoint_due(force=True)
            await self._commit_checkpointed({p: s for p, s in self.owned.items() if s is not None})
        except BackendUnavailable as exc:
            log.warning("correlator: checkpoint postponed: %s", exc)
        self._next_advance = time.monotonic() + ADVANCE_INTERVAL_SECS
        # No input: each source partition's event time follows the clock from its newest event, so
        # end-of-window conditions fire. Partitions are restored first (a new owner may be idle).
        try:
            for partition in list(self.owned):
                state = await self._state(partition)
                closed = self._not_excepted_correlations(
                    state.engine.idle(), {}, self.config.exceptions, datetime.now(UTC)
                )
                if closed:
                    state.windows_closed = True
                    owed = self._owe(partition, state)
                    for a in closed:
                        owed.alerts[a.id] = (alert_from_correlation(a.to_dict(), {}), None)
            if self._owed:  # closed windows' alerts (or a failed batch's): kept until acknowledged
                await self._settle()
        except BackendUnavailable as exc:
            log.warning("correlator: closing windows postponed: %s", exc)
