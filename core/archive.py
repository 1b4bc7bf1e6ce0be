"""The archive tier: one OpenSearch snapshot per day of that day's events, and the restore of one
day into a searchable index (docs/operations.md, "Archive").

Taking a day (`archive_day`, the retention component's schedule, `archive_loop`):
1. the day's events (midnight to midnight in the settings' `timezone`, by `@timestamp`) of the
   configured data streams are copied by a server-side `_reindex` into a staging index
   `<index_prefix>-archive-<day>` (the events' mappings, ids kept);
2. that index alone is snapshotted as `events-<day>` (metadata: day, count) into the fs
   repository, and then deleted;
3. snapshots past `archive.keep_snapshots` (oldest days first) are deleted.
A snapshot of the whole data streams would hold every stored day in each snapshot, and a restore
of one day would first have to bring back whole backing indices; one index per day makes each
snapshot exactly one day, the count of snapshots the count of archived days, and a restore one call.

Restoring (`restore_day`, the operator's `canhgac archive restore`, admin principal): the staging
index of that snapshot comes back renamed `<index_prefix>-restored-<day>`, which the API's event
search reads with `archive_day` (api/events); `drop_restored` deletes it. Neither name matches the
live streams' `<index_prefix>.*`, so live search, retention and the detector never see them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from canhgac.core.archive_config import ArchiveConfig
from canhgac.core.config import OpenSearchConfig, Settings
from canhgac.core.errors import BackendUnavailable, Conflict, NotFound
from canhgac.core.index import translate, translated
from canhgac.core.store import events_template
from canhgac.core.timezones import parse_zone
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import TransportError

log = logging.getLogger(__name__)

SNAPSHOT_PREFIX = "events-"


def snapshot_name(day: date) -> str:
    return f"{SNAPSHOT_PREFIX}{day.isoformat()}"


def staging_index(cfg: OpenSearchConfig, day: date) -> str:
    return f"{cfg.index_prefix}-archive-{day.isoformat()}"


def restored_index(cfg: OpenSearchConfig, day: date) -> str:
    return f"{cfg.index_prefix}-restored-{day.isoformat()}"


def day_bounds(day: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """The day's start and the next day's start, in UTC."""
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def source_indices(cfg: OpenSearchConfig, archive: ArchiveConfig) -> list[str]:
    if archive.datasets:
        return [f"{cfg.index_prefix}.{dataset}-*" for dataset in archive.datasets]
    return [f"{cfg.index_prefix}.*"]


def due_days(archive: ArchiveConfig, zone: tzinfo, now: datetime) -> list[date]:
    """The days the schedule should hold by `now`: yesterday once the local time is past
    `run_at_local` (the day before otherwise), and `lookback_days` before it; oldest first."""
    local = now.astimezone(zone)
    hour, minute = (int(x) for x in archive.run_at_local.split(":"))
    last = local.date() - timedelta(days=1 if local.time() >= time(hour, minute) else 2)
    return [last - timedelta(days=n) for n in range(archive.lookback_days, -1, -1)]


@dataclass(frozen=True)
class ArchivedDay:
    day: date
    snapshot: str
    state: str
    events: int | None


async def list_snapshots(client: AsyncOpenSearch, repository: str) -> list[ArchivedDay]:
    """The repository's day snapshots, oldest day first."""
    with translated(missing=f"snapshot repository {repository} is not registered: `canhgac archive setup`"):
        result = await client.snapshot.get(repository=repository, snapshot="_all")
    days = []
    for snap in result.get("snapshots", []):
        name = str(snap.get("snapshot", ""))
        if not name.startswith(SNAPSHOT_PREFIX):
            continue
        try:
            day = date.fromisoformat(name[len(SNAPSHOT_PREFIX) :])
        except ValueError:
            continue
        events = (snap.get("metadata") or {}).get("events")
        days.append(ArchivedDay(day, name, str(snap.get("state")), int(events) if events is not None else None))
    return sorted(days, key=lambda d: d.day)


async def _snapshot_exists(client: AsyncOpenSearch, repository: str, name: str) -> bool:
    try:
        with translated():
            await client.snapshot.get(repository=repository, snapshot=name)
    except NotFound:
        return False
    return True


async def archive_day(client: AsyncOpenSearch, settings: Settings, day: date) -> int | None:
    """Snapshot `day`'s events; the count archived, or None when the snapshot already exists."""
    cfg, archive = settings.opensearch, settings.archive
    name = snapshot_name(day)
    if await _snapshot_exists(client, archive.repository, name):
        return None
    staging = staging_index(cfg, day)
    start, end = day_bounds(day, parse_zone(settings.timezone))
    template = events_template(cfg)["template"]
    timeout = archive.request_timeout_secs
    try:
        try:
            await client.indices.create(
                index=staging,
                body={
                    "settings": {**template["settings"], "number_of_replicas": 0, "refresh_interval": "-1"},
                    "mappings": template["mappings"],
                },
            )
        except TransportError as exc:
            # another replica's run, or one that stopped half-way: the copy below is idempotent
            if exc.error != "resource_already_exists_exception":
                raise translate(exc) from exc
        query = {"range": {"@timestamp": {"gte": start.isoformat(), "lt": end.isoformat()}}}
        with translated():
            copied = await client.reindex(
                body={
                    "conflicts": "proceed",
                    "source": {"index": ",".join(source_indices(cfg, archive)), "query": query},
                    "dest": {"index": staging, "op_type": "create"},
                },
                params={"wait_for_completion": "true", "refresh": "true", "request_timeout": timeout},
            )
        if copied.get("failures"):
            raise BackendUnavailable(f"archive of {day}: the copy failed: {copied['failures'][:3]}")
        with translated():
            count = int((await client.count(index=staging))["count"])
            try:
                taken = await client.snapshot.create(
                    repository=archive.repository,
                    snapshot=name,
                    body={
                        "indices": staging,
                        "include_global_state": False,
                        "metadata": {"day": day.isoformat(), "events": count, "taken_by": "canhgac archive"},
                    },
                    params={"wait_for_completion": "true", "request_timeout": timeout},
                )
            except TransportError as exc:
                if exc.error in ("invalid_snapshot_name_exception", "concurrent_snapshot_execution_exception"):
                    return None  # another replica is taking or took it
                raise
        state = taken["snapshot"]["state"]
        if state != "SUCCESS":
            raise BackendUnavailable(f"snapshot {name}: {state}")
        log.info("archive: %s snapshotted (%d events)", name, count)
        return count
    finally:
        try:
            with translated():
                await client.indices.delete(index=staging, ignore_unavailable=True)
        except Exception:  # the next round deletes it; never hide the archive's own outcome
            log.warning("archive: staging index %s not deleted", staging, exc_info=True)


async def prune_snapshots(client: AsyncOpenSearch, archive: ArchiveConfig) -> list[str]:
    """Delete day snapshots beyond `keep_snapshots`, oldest days first; the names deleted."""
    days = await list_snapshots(client, archive.repository)
    surplus = days[: max(0, len(days) - archive.keep_snapshots)]
    for old in surplus:
        with translated():
            await client.snapshot.delete(repository=archive.repository, snapshot=old.snapshot)
        log.info("archive: %s deleted (more than %d snapshots)", old.snapshot, archive.keep_snapshots)
    return [old.snapshot for old in surplus]


async def archive_round(client: AsyncOpenSearch, settings: Settings, now: datetime | None = None) -> dict[date, int]:
    """One round of the schedule: every due day not archived yet, then the count kept."""
    zone = parse_zone(settings.timezone)
    taken: dict[date, int] = {}
    held = {a.day for a in await list_snapshots(client, settings.archive.repository)}
    due = [d for d in due_days(settings.archive, zone, now or datetime.now(UTC)) if d not in held]
    # Only the days that the count kept leaves standing: a missed day older than the newest
    # `keep_snapshots` would be deleted right after, and taken again at every round.
    kept = set(sorted(held | set(due))[-settings.archive.keep_snapshots :])
    for day in (d for d in due if d in kept):
        count = await archive_day(client, settings, day)
        if count is not None:
            taken[day] = count
    await prune_snapshots(client, settings.archive)
    return taken


async def archive_loop(client_factory: Any, settings: Settings, stop: asyncio.Event) -> None:
    """A round now and every `archive.check_interval_secs` until `stop`."""
    interval = settings.archive.check_interval_secs
    while not stop.is_set():
        client = client_factory()
        try:
            await archive_round(client, settings)
        except Exception:  # repository missing, OpenSearch down or busy: the next round retries
            log.error("archive round failed; retrying in %.0fs", interval, exc_info=True)
        finally:
            await client.close()
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            continue


async def register_repository(client: AsyncOpenSearch, archive: ArchiveConfig) -> None:
    with translated():
        await client.snapshot.create_repository(
            repository=archive.repository,
            body={"type": "fs", "settings": {"location": archive.location, "compress": True}},
        )


async def restore_day(client: AsyncOpenSearch, settings: Settings, day: date) -> tuple[str, int]:
    """Restore `day`'s snapshot as `<index_prefix>-restored-<day>`; its name and event count."""
    cfg, archive = settings.opensearch, settings.archive
    target = restored_index(cfg, day)
    with translated():
        if await client.indices.exists(index=target):
            raise Conflict(f"{day} is already restored as {target}")
    if not await _snapshot_exists(client, archive.repository, snapshot_name(day)):
        raise NotFound(f"no archive of {day} in repository {archive.repository}")
    with translated():
        await client.snapshot.restore(
            repository=archive.repository,
            snapshot=snapshot_name(day),
            body={
                "indices": staging_index(cfg, day),
                "include_global_state": False,
                "rename_pattern": ".+",
                "rename_replacement": target,
                "index_settings": {"index.number_of_replicas": cfg.number_of_replicas, "index.refresh_interval": "1s"},
            },
            params={"wait_for_completion": "true", "request_timeout": archive.request_timeout_secs},
        )
        await client.indices.refresh(index=target)
        count = int((await client.count(index=target))["count"])
    return target, count


async def drop_restored(client: AsyncOpenSearch, cfg: OpenSearchConfig, day: date) -> str:
    target = restored_index(cfg, day)
    try:
        with translated():
            await client.indices.delete(index=target)
    except NotFound as exc:
        raise NotFound(f"{day} is not restored") from exc
    return target


async def restored_days(client: AsyncOpenSearch, cfg: OpenSearchConfig) -> list[tuple[str, int]]:
    """Restored indices and their event counts."""
    prefix = f"{cfg.index_prefix}-restored-"
    with translated():
        rows = await client.cat.indices(index=f"{prefix}*", format="json", params={"h": "index,docs.count"})
    return sorted((str(r["index"]), int(r.get("docs.count") or 0)) for r in rows)
