"""`canhgac archive`: the daily event snapshots (core/archive.py).

- `setup` registers the snapshot repository (admin principal; the node's path.repo must hold it);
- `snapshot` runs one round of the schedule now, or takes one `--day` (retention principal, as the
  schedule does);
- `list` shows the archived days and the restored ones;
- `restore --day` brings a day back as `<index_prefix>-restored-<day>`, searchable through the API
  (`archive_day` of an event search); `drop --day` deletes it. Both need the admin principal and
  are written to the audit log (`archive.restore`, `archive.drop`) as the operator's OS account.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import date
from typing import Any

from canhgac.api.audit.service import record
from canhgac.api.indices import ensure_api_indices
from canhgac.core.archive import (
    archive_day,
    archive_round,
    drop_restored,
    list_snapshots,
    prune_snapshots,
    register_repository,
    restore_day,
    restored_days,
)
from canhgac.core.config import Settings, load_settings
from canhgac.core.errors import CanhgacError
from canhgac.core.store import make_client


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("archive", help="daily snapshots of the events; restore one day to search it")
    archive = parser.add_subparsers(dest="archive_command", metavar="ACTION", required=True)
    archive.add_parser("setup", help="register the snapshot repository (archive.repository, .location)").set_defaults(
        func=lambda a: _run(setup(load_settings(a.config)))
    )
    snap = archive.add_parser("snapshot", help="archive the due days now (or one --day)")
    snap.add_argument("--day", type=date.fromisoformat, help="YYYY-MM-DD in the settings' time zone")
    snap.set_defaults(func=lambda a: _run(snapshot(load_settings(a.config), a.day)))
    archive.add_parser("list", help="archived days and restored days").set_defaults(
        func=lambda a: _run(listing(load_settings(a.config)))
    )
    restore = archive.add_parser("restore", help="restore one day as a searchable index")
    restore.add_argument("--day", required=True, type=date.fromisoformat)
    restore.set_defaults(func=lambda a: _run(restore_one(load_settings(a.config), a.day, _operator())))
    drop = archive.add_parser("drop", help="delete a restored day (the snapshot stays)")
    drop.add_argument("--day", required=True, type=date.fromisoformat)
    drop.set_defaults(func=lambda a: _run(drop_one(load_settings(a.config), a.day, _operator())))


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in this environment (a container without passwd entry)
        return "cli"


def _run(work: Any) -> int:
    try:
        for line in asyncio.run(work):
            print(line)
    except CanhgacError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


async def setup(settings: Settings) -> list[str]:
    client = make_client(settings.opensearch, component="admin")
    try:
        await register_repository(client, settings.archive)
    finally:
        await client.close()
    return [f"repository {settings.archive.repository} at {settings.archive.location}"]


async def snapshot(settings: Settings, day: date | None) -> list[str]:
    client = make_client(settings.opensearch, component="retention")
    try:
        if day is None:
            taken = await archive_round(client, settings)
        else:
            count = await archive_day(client, settings, day)
            taken = {} if count is None else {day: count}
            await prune_snapshots(client, settings.archive)
    finally:
        await client.close()
    return [f"{d}: {n} events archived" for d, n in taken.items()] or ["nothing to archive: every due day is"]


async def listing(settings: Settings) -> list[str]:
    client = make_client(settings.opensearch, component="admin")
    try:
        days = await list_snapshots(client, settings.archive.repository)
        restored = await restored_days(client, settings.opensearch)
    finally:
        await client.close()
    lines = [f"archived {d.day} {d.state} {d.events if d.events is not None else '?'} events" for d in days]
    return lines + [f"restored {name} {count} events" for name, count in restored]


async def _audited(settings: Settings, actor: str, action: str, day: date, details: dict[str, Any]) -> None:
    client = make_client(settings.opensearch, component="api")
    try:
        await ensure_api_indices(client, settings.opensearch)
        await record(
            client,
            settings.opensearch.audit_index,
            actor=actor,
            action=action,
            target_type="archive_day",
            target_id=day.isoformat(),
            details=details,
        )
    finally:
        await client.close()


async def restore_one(settings: Settings, day: date, actor: str) -> list[str]:
    client = make_client(settings.opensearch, component="admin")
    try:
        index, count = await restore_day(client, settings, day)
    finally:
        await client.close()
    await _audited(
        settings,
        actor,
        "archive.restore",
        day,
        {"index": index, "events": count, "repository": settings.archive.repository},
    )
    return [f"{day} restored as {index}: {count} events (search it with archive_day={day})"]


async def drop_one(settings: Settings, day: date, actor: str) -> list[str]:
    client = make_client(settings.opensearch, component="admin")
    try:
        index = await drop_restored(client, settings.opensearch, day)
    finally:
        await client.close()
    await _audited(settings, actor, "archive.drop", day, {"index": index})
    return [f"{index} deleted"]
