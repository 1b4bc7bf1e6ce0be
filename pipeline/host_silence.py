"""Per-host silence inside a source: last event per (source, host.name), and "host silent" alerts.

Pure (the clock is passed in): the source-health stage feeds it the events of the sources it owns
(a source's events all go to one Kafka partition, keyed by source id, so the replica owning that
partition sees every host of the source) and asks it, on each check, which hosts fell silent.
Settings and the working-time clock: canhgac.core.host_silence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from canhgac.core.alert import AlertRule, Severity, alert_id, build_alert, iso
from canhgac.core.host_silence import HostSilenceConfig, SourceHostSilence, WorkCalendar

HOST_SILENT_RULE_ID = "canhgac-host-silent"


@dataclass
class HostStats:
    source_id: str
    host: str
    agency: str | None
    first_seen: datetime
    last_seen: datetime
    events: int = 0
    silent_since: datetime | None = None
    silent_alert: dict[str, Any] | None = None


class HostSilenceTracker:
    def __init__(self, config: HostSilenceConfig, holidays: frozenset[date] = frozenset()) -> None:
        self.config = config
        self.holidays = holidays | frozenset(config.holidays)
        self.hosts: dict[tuple[str, str], HostStats] = {}
        self._per_source: dict[str, int] = {}

    def observe(self, source_id: str, host: str | None, agency: str | None, now: datetime) -> list[dict[str, Any]]:
        """Count one event of `host`; returns the alert update when it ends that host's silence."""
        if not host or self.config.for_source(source_id) is None:
            return []
        key = (source_id, host.lower())
        stats = self.hosts.get(key)
        if stats is None:
            if self._per_source.get(source_id, 0) >= self.config.max_hosts_per_source:
                return []  # bounded memory: a source past its host cap tracks no new hosts
            self._per_source[source_id] = self._per_source.get(source_id, 0) + 1
            stats = self.hosts[key] = HostStats(source_id, host.lower(), agency, first_seen=now, last_seen=now)
        stats.events += 1
        stats.last_seen = now
        stats.agency = agency or stats.agency
        if stats.silent_alert is not None:
            alert = dict(stats.silent_alert)
            alert["count"] = alert["count"] + 1
            alert["cleared_at"] = iso(now)
            alert["last_seen"] = iso(now)
            stats.silent_since, stats.silent_alert = None, None
            return [alert]
        return []

    def check(
        self,
        now: datetime,
        zone_of: Callable[[str], str],
        owns: Callable[[str], bool] = lambda _source_id: True,
    ) -> list[dict[str, Any]]:
        """New "host silent" alerts: hosts that sent at least `min_events` and then nothing for more
        than `silent_after_secs` of working time in their source's zone (`zone_of`)."""
        alerts = []
        calendars: dict[str, WorkCalendar] = {}
        for stats in self.hosts.values():
            if stats.silent_alert is not None or not owns(stats.source_id):
                continue
            source = self.config.for_source(stats.source_id)
            if source is None or stats.events < self.config.minimum_events(source):
                continue
            calendar = calendars.get(stats.source_id)
            if calendar is None:
                hours = self.config.hours_for(source)
                calendar = calendars[stats.source_id] = WorkCalendar(hours, self.holidays, zone_of(stats.source_id))
            threshold = self.config.threshold_secs(source)
            if calendar.working_secs(stats.last_seen, now) > threshold:
                stats.silent_since = stats.last_seen
                stats.silent_alert = host_silent_alert(stats, source, threshold, now)
                alerts.append(stats.silent_alert)
        return alerts


def host_silent_alert(stats: HostStats, source: SourceHostSilence, threshold: int, now: datetime) -> dict[str, Any]:
    """One host's silence; the id is rule + agency + source + host + when the silence began, so a
    replica that raises it again after a restart writes the same alert."""
    group = {"canhgac.source_id": stats.source_id, "host.name": stats.host}
    alert = build_alert(
        alert_id=alert_id(HOST_SILENT_RULE_ID, stats.agency, group, iso(stats.last_seen)),
        rule=AlertRule(
            id=HOST_SILENT_RULE_ID,
            title=f"Host silent: {stats.host} ({stats.source_id})",
            level=Severity.LOW,
            author="Canhgac",
            tags=["canhgac.source_health"],
            references=[],
            description=(
                f"Host {stats.host} of source {stats.source_id} sent {stats.events} events, then none for more "
                f"than {threshold} s of working time (Máy ngừng gửi log trong giờ làm việc)."
            ),
        ),
        agency=stats.agency,
        created_by="source-health",
        first_seen=now,
        last_seen=now,
        count=1,
        snapshot={
            "host": {"name": stats.host},
            "canhgac": {"source_id": stats.source_id, "last_seen": iso(stats.last_seen)},
        },
        group=group,
        now=now,
    )
    return alert.to_document()
