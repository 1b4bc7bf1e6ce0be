"""Source health: last event, events/s and parse-error rate per source, and "source silent" alerts.

A declared source that sends nothing for longer than its `expected_interval_secs` raises an alert
of its own (rule id `canhgac-source-silent`); when it sends again the same alert gets `cleared_at`.
Declarations are live (core/source_registry.py): a source declared through the API is watched from
the moment the stage reads it, an edit changes its interval and agency, a disabled source is
expected to be quiet (no alert), a deleted one is kept as "seen, not declared" (no alert).
The tracker is pure (the clock is passed in) so silence and recovery are tested without waiting.
Health snapshots are written to the `canhgac-sources` index for the API and console.
Inside a source, hosts are followed one by one too (pipeline/host_silence.py, `host_silence:` in
the settings): a host that sent regularly and stopped raises "host silent", counted in working
hours only (the stage's `clock` decides, so tests set the time).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.partitioner import murmur2
from canhgac.core.alert import AlertRule, Severity, alert_id, build_alert, iso
from canhgac.core.config import CollectorsConfig, KafkaConfig, OpenSearchConfig, PipelineConfig, SourceConfig
from canhgac.core.host_silence import HostSilenceConfig, load_holidays
from canhgac.core.metrics import Metrics
from canhgac.core.source_registry import SourceRegistry
from canhgac.core.store import make_client
from canhgac.pipeline.bulk import BulkItem, bulk_write
from canhgac.pipeline.host_silence import HostSilenceTracker
from canhgac.pipeline.stage import Stage
from opensearchpy import AsyncOpenSearch

RATE_WINDOW_SECS = 60
SILENT_RULE_ID = "canhgac-source-silent"


@dataclass
class SourceStats:
    source_id: str
    agency: str | None
    expected_interval_secs: int | None
    last_seen: datetime | None = None
    total: int = 0
    errors: int = 0
    recent: deque[tuple[int, int, int]] = field(default_factory=deque)  # (second, events, errors)
    silent_since: datetime | None = None
    silent_alert: dict[str, Any] | None = None
    enabled: bool = True
    # When the stage began watching this declaration (start, declared, or enabled again): silence
    # is counted from the later of this and the last event.
    watched_since: datetime | None = None

    def observe(self, now: datetime, is_error: bool) -> None:
        self.last_seen = now
        self.total += 1
        self.errors += int(is_error)
        second = int(now.timestamp())
        if self.recent and self.recent[-1][0] == second:
            s, n, e = self.recent[-1]
            self.recent[-1] = (s, n + 1, e + int(is_error))
        else:
            self.recent.append((second, 1, int(is_error)))
        self._prune(second)

    def _prune(self, second: int) -> None:
        while self.recent and self.recent[0][0] <= second - RATE_WINDOW_SECS:
            self.recent.popleft()

    def snapshot(self, now: datetime) -> dict[str, Any]:
        self._prune(int(now.timestamp()))
        events = sum(n for _, n, _ in self.recent)
        errors = sum(e for _, _, e in self.recent)
        return {
            "id": self.source_id,
            "agency": self.agency,
            "last_seen": iso(self.last_seen) if self.last_seen else None,
            "events_per_sec": round(events / RATE_WINDOW_SECS, 3),
            "parse_error_rate": round(errors / events, 4) if events else 0.0,
            "events_total": self.total,
            "parse_errors_total": self.errors,
            "expected_interval_secs": self.expected_interval_secs,
            "enabled": self.enabled,
            "silent": self.silent_since is not None,
            "silent_since": iso(self.silent_since) if self.silent_since else None,
            "updated_at": iso(now),
        }


class SourceHealthTracker:
    def __init__(self, sources: Sequence[SourceConfig], started_at: datetime) -> None:
        self.started_at = started_at
        self.stats: dict[str, SourceStats] = {}
        self.declared: set[str] = set()
        self.sync(sources, started_at)

    def sync(self, sources: Sequence[SourceConfig], now: datetime) -> None:
        """Follow the declarations as they are now (added, edited, disabled, enabled, deleted)."""
        current = {s.id: s for s in sources}
        for source in current.values():
            stats = self.stats.get(source.id)
            if stats is None:
                stats = self.stats[source.id] = SourceStats(source.id, source.agency, None, watched_since=now)
            elif source.id not in self.declared or (source.enabled and not stats.enabled):
                stats.watched_since = now  # newly declared or enabled again: its interval starts now
            stats.agency = source.agency
            stats.expected_interval_secs = source.expected_interval_secs
            stats.enabled = source.enabled
        for gone in self.declared - current.keys():
            stats = self.stats[gone]
            stats.expected_interval_secs, stats.enabled = None, True  # seen, no longer declared
        self.declared = set(current)

    def observe(self, source_id: str, agency: str | None, now: datetime, *, is_error: bool) -> list[dict[str, Any]]:
        """Count one event; returns the alert update when this event ends a silence."""
        stats = self.stats.get(source_id)
        if stats is None:
            stats = self.stats[source_id] = SourceStats(source_id, agency, None)
        stats.observe(now, is_error)
        if stats.silent_since is not None and stats.silent_alert is not None:
            alert = dict(stats.silent_alert)
            alert["count"] = alert["count"] + 1
            alert["cleared_at"] = iso(now)
            alert["last_seen"] = iso(now)
            stats.silent_since, stats.silent_alert = None, None
            return [alert]
        stats.silent_since = None
        return []

    def restore_silence(self, source_id: str, since: datetime, now: datetime) -> None:
        """A silence the previous owner of the source already alerted on: not raised again (the
        same alert id, so its clearing updates that alert)."""
        stats = self.stats.get(source_id)
        if stats is None or stats.silent_since is not None or (stats.last_seen and stats.last_seen > since):
            return
        stats.silent_since = since
        stats.silent_alert = silent_alert(stats, since, now)

    def restore_last_seen(self, source_id: str, last_seen: datetime) -> None:
        stats = self.stats.get(source_id)
        if stats is not None and (stats.last_seen is None or last_seen > stats.last_seen):
            stats.last_seen = last_seen

    def check_silence(
        self, now: datetime, owns: Callable[[str], bool] = lambda _source_id: True
    ) -> list[dict[str, Any]]:
        """New "source silent" alerts for declared sources past their expected interval (only the
        sources `owns` says this replica watches)."""
        alerts = []
        for stats in self.stats.values():
            if stats.expected_interval_secs is None or stats.silent_since is not None or not stats.enabled:
                continue
            if not owns(stats.source_id):
                continue
            since = max(t for t in (stats.last_seen, stats.watched_since, self.started_at) if t is not None)
            if (now - since).total_seconds() > stats.expected_interval_secs:
                stats.silent_since = since
                stats.silent_alert = silent_alert(stats, since, now)
                alerts.append(stats.silent_alert)
        return alerts


def silent_alert(stats: SourceStats, since: datetime, now: datetime) -> dict[str, Any]:
    """The alert of one silence; its id is rule + agency + source + when the silence began."""
    group = {"canhgac.source_id": stats.source_id}
    alert = build_alert(
        alert_id=alert_id(SILENT_RULE_ID, stats.agency, group, iso(since)),
        rule=AlertRule(
            id=SILENT_RULE_ID,
            title=f"Source silent: {stats.source_id}",
            level=Severity.MEDIUM,
            author="Canhgac",
            tags=["canhgac.source_health"],
            references=[],
            description=(
                f"No event from source {stats.source_id} for more than {stats.expected_interval_secs} s "
                "(Nguồn log ngừng gửi dữ liệu)."
            ),
        ),
        agency=stats.agency,
        created_by="source-health",
        first_seen=now,
        last_seen=now,
        count=1,
        snapshot={"canhgac": {"source_id": stats.source_id, "last_seen": iso(since) if stats.last_seen else None}},
        group=group,
        now=now,
    )
    return alert.to_document()


class _SourceOwnership(ConsumerRebalanceListener):
    def __init__(self, stage: SourceHealthStage) -> None:
        self.stage = stage

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self.stage.owned_partitions -= {tp.partition for tp in revoked}

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.stage.owned_partitions |= {tp.partition for tp in assigned}
        self.stage._restore_pending = bool(assigned)


class SourceHealthStage(Stage):
    name = "source-health"

    def __init__(
        self,
        kafka: KafkaConfig,
        opensearch: OpenSearchConfig,
        pipeline: PipelineConfig,
        metrics: Metrics,
        sources: Sequence[SourceConfig],
        *,
        check_interval_secs: float = 5.0,
        collectors: CollectorsConfig | None = None,
        sources_refresh_secs: float = 5.0,
        host_silence: HostSilenceConfig | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(kafka, pipeline.indexer, metrics, retry_backoff_max_secs=pipeline.retry_backoff_max_secs)
        self.opensearch = opensearch
        self.pipeline = pipeline
        self.registry = SourceRegistry(
            sources,
            collectors or CollectorsConfig(),
            opensearch,
            component=self.component,
            refresh_secs=sources_refresh_secs,
        )
        self._synced_version = self.registry.version
        self.tracker = SourceHealthTracker(sources, datetime.now(UTC))
        self.check_interval_secs = check_interval_secs
        self.client: AsyncOpenSearch | None = None
        self._next_check = 0.0
        # Alerts returned by the tracker and not yet acknowledged by Kafka (see _publish).
        self._pending_alerts: list[dict[str, Any]] = []
        # Several replicas: each raises "source silent" only for the sources of its partitions.
        self.owned_partitions: set[int] = set()
        self._restore_pending = False
        hosts_cfg = host_silence or HostSilenceConfig()
        holidays = load_holidays(hosts_cfg.holidays_file) if hosts_cfg.holidays_file else frozenset()
        self.hosts = HostSilenceTracker(hosts_cfg, holidays)
        self.clock = clock  # the per-host decision's time (working hours, holidays)

    @property
    def index_name(self) -> str:
        return self.opensearch.sources_index

    def rebalance_listener(self) -> ConsumerRebalanceListener:
        return _SourceOwnership(self)

    def owns(self, source_id: str) -> bool:
        """Whether this replica watches the source: it owns the events partition the source's key
        goes to (collectors key every record by source id), so it sees all of its events.
        Without a consumer (unit tests, before the first assignment of a lone replica) it owns all."""
        if self.consumer is None:
            return True
        partition = self._partition_of(source_id)
        return partition is not None and partition in self.owned_partitions

    def _partition_of(self, source_id: str) -> int | None:
        assert self.consumer is not None
        partitions = self.consumer.partitions_for_topic(self.kafka.topics.events)
        if not partitions:
            return None
        index = (murmur2(source_id.encode()) & 0x7FFFFFFF) % len(partitions)
        return sorted(partitions)[index]

    async def _read_to_end(self) -> set[int]:
        """The events partitions this replica has read to their last fetched high watermark."""
        assert self.consumer is not None
        done = set()
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            if tp.topic != self.kafka.topics.events or highwater is None:  # nothing fetched yet
                continue
            try:
                if await self.consumer.position(tp) >= highwater:
                    done.add(tp.partition)
            except KafkaError:  # revoked meanwhile
                continue
        return done

    async def silence_alerts(self, now: datetime) -> list[dict[str, Any]]:
        """New source- and host-silence alerts for the sources this replica watches and whose
        partition it has read to the end: events it has not read yet (a backlog after a restart,
        a rebalance or an outage of its own) are not the source's silence."""
        if self.consumer is None:
            watching = self.owns
        else:
            read = await self._read_to_end()

            def watching(source_id: str) -> bool:
                return self.owns(source_id) and self._partition_of(source_id) in read

        alerts = self.tracker.check_silence(now, watching)
        return alerts + self.hosts.check(self.clock(), self._zone_of, watching)

    def topics(self) -> list[str]:
        return [self.kafka.topics.events]

    def _zone_of(self, source_id: str) -> str:
        """Working hours are the source's local hours."""
        for source in self.registry.sources():
            if source.id == source_id:
                return source.timezone
        return "Asia/Ho_Chi_Minh"

    async def start(self) -> None:
        self.client = make_client(self.opensearch, component=self.component)
        await self.registry.start()  # then re-read in the background every sources_refresh_secs
        self._follow_declarations()
        await self._restore()

    def _follow_declarations(self) -> None:
        if self.registry.version != self._synced_version:
            self._synced_version = self.registry.version
            self.tracker.sync(self.registry.sources(), datetime.now(UTC))

    async def _restore(self) -> None:
        """Last event and raised silence of every tracked source, as the previous owner wrote them.

        Read by id (a realtime get): a search would miss a snapshot written within the index's
        refresh interval, and a replica taking a partition over a moment after its previous owner
        raised a silence would raise it again under its own start time (another alert id)."""
        assert self.client is not None
        ids = list(self.tracker.stats)
        for start in range(0, len(ids), 1000):
            try:
                found = await self.client.mget(index=self.index_name, body={"ids": ids[start : start + 1000]})
            except Exception:  # no index yet or OpenSearch down: start from "now", alerts may come late
                return
            for doc in found["docs"]:
                if doc.get("found"):
                    self._restore_one(doc["_id"], doc["_source"])

    def _restore_one(self, source_id: str, snapshot: dict[str, Any]) -> None:
        last_seen = snapshot.get("last_seen")
        if last_seen:
            self.tracker.restore_last_seen(source_id, datetime.fromisoformat(last_seen.replace("Z", "+00:00")))
        silent_since = snapshot.get("silent_since")
        if silent_since:
            since = datetime.fromisoformat(silent_since.replace("Z", "+00:00"))
            self.tracker.restore_silence(source_id, since, datetime.now(UTC))

    async def close(self) -> None:
        await self.registry.close()
        if self.client:
            await self.client.close()

    async def on_idle(self) -> None:
        if time.monotonic() >= self._next_check:
            await self._publish([])

    async def process(self, records: Sequence[ConsumerRecord]) -> None:
        now = datetime.now(UTC)
        alerts: list[dict[str, Any]] = []
        for record in records:
            try:
                event = orjson.loads(record.value)
                cg = event.get("canhgac") or {}
                source_id = str(cg.get("source_id") or "unknown")
                is_error = (event.get("event") or {}).get("kind") == "pipeline_error"
                host = (event.get("host") or {}).get("name")
            except (orjson.JSONDecodeError, AttributeError):
                continue  # the indexer dead-letters undecodable events; health only counts
            alerts += self.tracker.observe(source_id, cg.get("agency"), now, is_error=is_error)
            if not is_error and isinstance(host, str):
                alerts += self.hosts.observe(source_id, host, cg.get("agency"), self.clock())
        await self._publish(alerts)

    async def _publish(self, alerts: list[dict[str, Any]]) -> None:
        assert self.client is not None
        self._follow_declarations()
        now = datetime.now(UTC)
        self._next_check = time.monotonic() + self.check_interval_secs
        if self._restore_pending:  # newly owned sources: their last event as the previous owner saw it
            self._restore_pending = False
            await self._restore()
        # The tracker marks a silence (or its end) as alerted when it returns the alert, so an alert
        # whose produce failed (a broker down) stays pending and is sent again with the next publish:
        # the stage is retried on the same tracker, which would not raise it a second time. Alert
        # ids are deterministic, so a resend after a produce that did land rewrites the same alert.
        self._pending_alerts += alerts + await self.silence_alerts(now)
        if self._pending_alerts:
            pending = [(a["id"].encode(), orjson.dumps(a)) for a in self._pending_alerts]
            await self.produce(self.kafka.topics.alerts, pending)
            self._pending_alerts = []
        items = [
            BulkItem({"index": {"_index": self.index_name, "_id": sid}}, stats.snapshot(now))
            for sid, stats in self.tracker.stats.items()
            if self.owns(sid)
        ]
        if items:
            await bulk_write(self.client, items, max_retries=self.pipeline.bulk_max_retries)
