"""Notifier stage: canhgac.alerts.v1 -> routing, grouping, escalation -> email/Telegram/webhooks.

`handle_alert` only writes the durable outbox (SQLite), so once a batch is handled its offsets can
be committed; sending happens in `run_due`, called after each batch and while idle. Alerts the
notifier raises about itself (a channel that keeps failing) go back to canhgac.alerts.v1, so they
are indexed and shown like any other alert.

Replicas: one elected owner. Throttles, grouping windows and digests span alerts (of one route,
one host, one agency), so the notifier's state is not split by alert: every replica joins the
election group `<group_prefix>-notifier-owner` on the one-partition, compacted state topic
(canhgac.notifier-state.v1), and the replica the group assigns that partition to is the owner.
Only the owner consumes canhgac.alerts.v1 and sends. After every change of its SQLite state (a
batch handled, a run of sends) it writes a snapshot of the database to the state topic, before the
batch's offsets are committed. A replica elected next (the owner stopped, or was killed and its
session expired) restores the newest snapshot and resumes: pending sends, held summaries, open
groups and due escalations carry over. The others stand by. docs/notifications.md, "Replicas".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from canhgac.core.agency_routes import RouteFollower
from canhgac.core.config import KafkaConfig, PipelineConfig
from canhgac.core.errors import BackendUnavailable
from canhgac.core.kafka import CHANGELOG_MAX_BYTES, make_consumer, make_producer, make_reader
from canhgac.core.metrics import Metrics
from canhgac.core.notify_config import AgencyRoute, NotifyConfig, RouteConfig
from canhgac.pipeline.notify import InvalidAlertError, NotifierService
from canhgac.pipeline.notify.db import restore_file
from canhgac.pipeline.notify.service import RunReport
from canhgac.pipeline.stage import Stage

log = logging.getLogger(__name__)
RUN_DUE_INTERVAL_SECS = 2.0
# Outbox statuses still to be sent: their counts are the outbox depth.
OUTBOX_WAITING = ("pending", "retrying", "sending")
# Every record of the state topic is a snapshot under this key: the newest is the last record.
SNAPSHOT_KEY = b"notifier"
ELECTION_POLL_MS = 1000
RESTORE_TIMEOUT_SECS = 60.0


class _Election(ConsumerRebalanceListener):
    """The owner is the member holding partition 0 of the state topic (never fetched: paused)."""

    def __init__(self, stage: NotifierStage) -> None:
        self.stage = stage

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        if revoked:
            await self.stage.step_down("ownership revoked")

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        if assigned:
            assert self.stage.election is not None
            self.stage.election.pause(*assigned)
            self.stage.elected.set()
            log.info("notifier: elected owner")
        else:
            log.info("notifier: standby (another replica owns the notifier)")


class NotifierStage(Stage):
    name = "notifier"
    max_request_bytes = CHANGELOG_MAX_BYTES

    def __init__(
        self,
        kafka: KafkaConfig,
        pipeline: PipelineConfig,
        notify: NotifyConfig,
        metrics: Metrics,
        *,
        data_dir: str | Path,
    ) -> None:
        super().__init__(kafka, pipeline.alert_indexer, metrics, retry_backoff_max_secs=pipeline.retry_backoff_max_secs)
        self.notify = notify
        self.data_dir = data_dir
        self.service: NotifierService | None = None
        self._next_run = 0.0
        self.election: AIOKafkaConsumer | None = None
        self.reader: AIOKafkaConsumer | None = None
        self.elected = asyncio.Event()
        self.terms = 0  # times this replica became the owner
        self._term: asyncio.Task[None] | None = None
        self._term_stop = asyncio.Event()
        self._snapshot_changes = -1
        # The agencies' own routes, followed live on their topic (core/agency_routes.py).
        self.agency_routes: list[RouteConfig] = []
        self.route_follower = RouteFollower(kafka, "notifier", self._routes_changed)

    def _routes_changed(self, routes: list[AgencyRoute]) -> None:
        self.agency_routes = [r.as_route() for r in routes]
        if self.service is not None:
            self.service.set_agency_routes(self.agency_routes)

    def topics(self) -> list[str]:
        return [self.kafka.topics.alerts]

    # election ------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Stand by in the election group; while elected, run the stage loop on the alerts topic."""
        self.producer = make_producer(
            self.kafka, component=self.component, client_suffix=self.name, max_request_bytes=self.max_request_bytes
        )
        await self.producer.start()
        self.reader = make_reader(self.kafka, component=self.component, client_suffix=f"{self.name}-restore")
        self.election = make_consumer(
            self.kafka,
            component=self.component,
            group_id=f"{self.group_id}-owner",
            topics=[self.kafka.topics.notifier_state],
            max_records=1,
            listener=_Election(self),
        )
        following = asyncio.create_task(self.route_follower.run(stop))
        try:
            await self.reader.start()
            await self.election.start()
            while not stop.is_set():
                # Keeps the membership alive (the partition is paused: nothing is fetched).
                await self.election.getmany(timeout_ms=ELECTION_POLL_MS)
                if self.elected.is_set() and self._term is None:
                    self._term_stop = asyncio.Event()
                    self._term = asyncio.create_task(self._run(self._term_stop))
                if self._term is not None and self._term.done():
                    term, self._term = self._term, None
                    self.elected.clear()
                    term.result()  # a term that failed stops the process; its supervisor restarts it
        finally:
            try:
                await self.step_down("stopping")
            finally:
                following.cancel()
                await asyncio.gather(following, return_exceptions=True)
                await self.election.stop()
                await self.reader.stop()
                await self.producer.stop()

    async def step_down(self, why: str) -> None:
        """Stop owning: finish the current batch, close the outbox, leave the alerts group."""
        self.elected.clear()
        term, self._term = self._term, None
        if term is None:
            return
        self._term_stop.set()
        try:
            await term
        finally:
            for tp in self._lag_reported:  # the next owner reports these partitions
                self.metrics.consumer_lag.remove(self.name, tp.topic, str(tp.partition))
            self._lag_reported = set()
            log.info("notifier: stepped down (%s)", why)

    # state ---------------------------------------------------------------------------------------
    async def _read_snapshot(self) -> bytes | None:
        """The newest snapshot in the state topic (its last record), None when there is none."""
        assert self.reader is not None
        tp = TopicPartition(self.kafka.topics.notifier_state, 0)
        try:
            self.reader.assign([tp])
            end = (await self.reader.end_offsets([tp]))[tp]
            if end == 0:
                return None
            self.reader.seek(tp, end - 1)
            deadline = time.monotonic() + RESTORE_TIMEOUT_SECS
            while time.monotonic() < deadline:
                fetched = await self.reader.getmany(tp, timeout_ms=500)
                for record in fetched.get(tp, []):
                    if record.offset == end - 1 and record.key == SNAPSHOT_KEY:
                        return record.value
                if await self.reader.position(tp) >= end:
                    return None
        except KafkaError as exc:
            raise BackendUnavailable(f"reading the notifier state topic failed: {exc}") from exc
        raise BackendUnavailable("restoring the notifier state timed out")

    async def _write_snapshot(self) -> None:
        """Publish the database if it changed since the last snapshot (acknowledged by Kafka)."""
        assert self.producer is not None and self.service is not None
        db = self.service.outbox.db
        if db.changes == self._snapshot_changes:
            return
        changes, snapshot = db.changes, db.snapshot()
        if len(snapshot) > CHANGELOG_MAX_BYTES - 4096:
            log.error(
                "notifier: state snapshot of %d bytes exceeds the state topic's limit; lower notify.retention_days",
                len(snapshot),
            )
            return
        try:
            sent = await self.producer.send(
                self.kafka.topics.notifier_state, value=snapshot, key=SNAPSHOT_KEY, partition=0
            )
            await sent
        except KafkaError as exc:
            raise BackendUnavailable(f"writing the notifier state topic failed: {exc}") from exc
        self._snapshot_changes = changes

    async def start(self) -> None:
        snapshot = await self._read_snapshot()
        if snapshot is not None:
            restore_file(Path(self.data_dir) / self.notify.database_file, snapshot)
        # Without a snapshot (first start, or upgraded from one replica) the local file is the state.
        self.service = NotifierService.open(
            self.notify, data_dir=self.data_dir, on_internal_alert=self._publish_internal
        )
        self.service.set_agency_routes(self.agency_routes)
        self.terms += 1
        self._snapshot_changes = -1 if snapshot is None else self.service.outbox.db.changes
        log.info(
            "notifier: owner; state restored from the state topic (%s)",
            "no snapshot yet" if snapshot is None else f"{len(snapshot)} bytes",
        )
        if snapshot is None:
            await self._write_snapshot()

    async def close(self) -> None:
        if self.service:
            service, self.service = self.service, None
            await service.close()

    async def _publish_internal(self, alert: dict[str, Any]) -> None:
        await self.produce(self.kafka.topics.alerts, [(str(alert["id"]).encode(), orjson.dumps(alert))])

    async def process(self, records: Sequence[ConsumerRecord]) -> None:
        assert self.service is not None
        dead = self.dead_letters()
        for record in records:
            try:
                alert = orjson.loads(record.value)
                await self.service.handle_alert(alert)
            except (orjson.JSONDecodeError, InvalidAlertError) as exc:
                dead.add(record.key, "bad_alert", str(exc), record.value)
        await self.produce_dead_letters(dead)
        await self._write_snapshot()  # the batch's state is the next owner's before offsets commit
        await self._run_due(force=True)

    async def on_idle(self) -> None:
        await self._run_due()

    async def _run_due(self, *, force: bool = False) -> None:
        if self.service is None or (not force and time.monotonic() < self._next_run):
            return
        if not self.elected.is_set():
            return  # stepping down (or fenced out): the next owner sends what is due
        self._next_run = time.monotonic() + RUN_DUE_INTERVAL_SECS
        try:
            report = await self.service.run_due()
        except Exception:  # a channel bug must not stop the consumer; the outbox keeps the work
            log.exception("notifier: sending due notifications failed; will retry")
            return
        self._count(report)
        try:
            await self._write_snapshot()  # what was sent is marked sent for the next owner too
        except BackendUnavailable as exc:  # the next batch or idle run writes it
            log.warning("notifier: state snapshot postponed: %s", exc)

    def _count(self, report: RunReport) -> None:
        assert self.service is not None
        m = self.metrics
        m.notifications.labels("sent").inc(report.sent)
        m.notifications.labels("retrying").inc(report.retrying)
        m.notifications.labels("failed").inc(report.failed)
        m.notifications_escalated.inc(report.escalations)
        waiting = self.service.outbox.counts()
        for status in OUTBOX_WAITING:
            m.outbox_depth.labels(status).set(waiting.get(status, 0))
