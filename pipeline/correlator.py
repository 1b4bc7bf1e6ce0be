"""Correlator stage: canhgac.correlation-input.v1 -> correlation windows -> canhgac.alerts.v1.

The detector publishes every match a correlation rule can count keyed by the rule family and its
group values (rules/correlation_routing.py), so one partition of the input topic holds every match
that can share a window, and the replica that owns the partition alone keeps those windows.

State is owned per input partition, as Kafka Streams keeps a task's store: each partition has its
own correlation engine, and after each batch its checkpoint is written to the compacted changelog
topic (same partition number, key = the partition) with the input offset it covers, before the
batch's offsets are committed. A replica that is assigned a partition restores the newest
checkpoint from the changelog and skips input below the offset it covers, so a rebalance (a
replica added, stopped or killed) neither loses a window nor counts a match twice. The one window
left: a replica that dies after its alerts were acknowledged and before its checkpoint was, makes
its successor emit those alerts again, with the same ids (the alert indexer upserts them).

After each batch with matches the detector also sends every partition a watermark record (each
source partition's newest matched event time), so lateness and the closing of windows follow the
sources' time as one detector saw it, whichever partition a group was routed to.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
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
from canhgac.rules.correlation import CorrelationEngine

log = logging.getLogger(__name__)

OFFSET_HEADER = "input-offset"
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


class _Ownership(ConsumerRebalanceListener):
    def __init__(self, stage: CorrelatorStage) -> None:
        self.stage = stage

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Every finished batch's state is already in the changelog: forgetting it is enough.
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

    async def _write_changelog(self, partition: int, state: PartitionState) -> None:
        assert self.producer is not None, "stage not started"
        if self.owned.get(partition) is not state:
            return  # revoked meanwhile: the new owner's checkpoint must not be overwritten by ours
        try:
            sent = await self.producer.send(
                self.kafka.topics.correlation_state,
                value=state.engine.checkpoint(),
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
        updated: dict[str, dict[str, Any]] = {}
        latest: dict[str, dict[str, Any]] = {}
        touched: dict[int, PartitionState] = {}
        dead = self.dead_letters()
        for record in records:
            if record.partition not in self.owned:
                continue  # revoked meanwhile: its new owner reads it (this batch's commit fails)
            state = await self._state(record.partition)
            if record.offset < state.next_offset:
                continue  # counted before a handover: its checkpoint already holds it
            state.next_offset = record.offset + 1
            touched[record.partition] = state
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
                dead.add(record.key, "bad_correlation_input", repr(exc), record.value)
                continue
            found = state.engine.observe(event, matched, ts, source_partition, feeds=feeds)
            for alert_found in self._not_excepted_correlations(found, event, exceptions, now):
                alert = alert_from_correlation(alert_found.to_dict(), event)
                if not alert_found.is_update:
                    self.metrics.alerts_raised.labels(alert["severity"]).inc()
                updated[alert["id"]] = alert
                latest[alert["id"]] = event
        for state in touched.values():
            for rule_id, count in state.engine.late_counts().items():
                self.metrics.correlation_late_events.labels(rule_id).inc(count)
        items = [(a["id"].encode(), orjson.dumps(a, option=orjson.OPT_NON_STR_KEYS)) for a in updated.values()]
        await self.produce(self.kafka.topics.alerts, items)
        self._observe_latency(latest.values())
        await self.produce_dead_letters(dead)
        # Alerts first, then the state that produced them, then (the stage loop) the offsets.
        await asyncio.gather(*(self._write_changelog(p, s) for p, s in touched.items()))

    async def on_idle(self) -> None:
        await self._maybe_reload()
        if self.producer is None or time.monotonic() < self._next_advance:
            return
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
                    items = [(a.id.encode(), orjson.dumps(alert_from_correlation(a.to_dict(), {}))) for a in closed]
                    await self.produce(self.kafka.topics.alerts, items)
                    await self._write_changelog(partition, state)
        except BackendUnavailable as exc:
            log.warning("correlator: closing windows postponed: %s", exc)
