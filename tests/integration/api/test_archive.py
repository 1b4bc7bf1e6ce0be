"""The archive tier on the real OpenSearch (core/archive.py): the schedule's round, with the
retention principal's rights only, snapshots each due day's events (and only that day's) and keeps
`keep_snapshots`; `canhgac archive restore --day` brings one day back as a searchable index that a
SOC analyst finds through the API's event search; `drop` removes it; both are audited."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
import yaml

from tests.integration.api.conftest import AGENCY_A, AGENCY_B, make_event

pytestmark = pytest.mark.integration


async def test_a_scheduled_day_snapshot_is_restored_and_found_by_search(api, run_id: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from canhgac.core.archive import archive_round, list_snapshots, restored_index, staging_index
    from canhgac.core.store import events_index, make_client
    from canhgac.core.timezones import parse_zone

    from canhgac.cmd_archive import drop_one, setup

    repository = f"canhgac-test-archive-{run_id}"
    settings = api.settings.model_copy(
        update={
            "archive": api.settings.archive.model_copy(
                update={"repository": repository, "location": repository, "lookback_days": 1, "keep_snapshots": 2}
            )
        }
    )
    cfg = settings.opensearch
    zone = parse_zone(settings.timezone)
    today = datetime.now(zone).date()
    day, day_before = today - timedelta(days=2), today - timedelta(days=3)
    # The round runs at 03:00 the day after `day`: `day` is due, and `day_before` by the lookback.
    round_at = datetime.combine(today - timedelta(days=1), time(3, 0), tzinfo=zone)

    admin = make_client(cfg, component="admin")
    retention = make_client(cfg, component="retention")
    try:
        noon = datetime.combine(day, time(12, 0), tzinfo=zone).astimezone(UTC)
        events = [
            (
                events_index(cfg.index_prefix, "test.auth"),
                make_event("d-1", AGENCY_A, "Failed password for kho-bac", noon),
            ),
            (events_index(cfg.index_prefix, "test.auth"), make_event("d-2", AGENCY_B, "Accepted password", noon)),
            # the first and last instants of the local day are in it
            (
                events_index(cfg.index_prefix, "test.web"),
                make_event("d-3", AGENCY_A, "GET /portal", datetime.combine(day, time(0), tzinfo=zone)),
            ),
            (
                events_index(cfg.index_prefix, "test.web"),
                make_event(
                    "next-day", AGENCY_A, "GET /portal", datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
                ),
            ),
            (
                events_index(cfg.index_prefix, "test.auth"),
                make_event("before", AGENCY_A, "Failed password", noon - timedelta(days=1)),
            ),
        ]
        for stream, doc in events:
            await admin.index(index=stream, body=doc, op_type="create")
        await admin.indices.refresh(index=f"{cfg.index_prefix}.*")
        assert await setup(settings)

        taken = await archive_round(retention, settings, now=round_at)
        assert taken == {day_before: 1, day: 3}
        assert not await admin.indices.exists(index=f"{staging_index(cfg, day)},{staging_index(cfg, day_before)}")
        # Taken once; with one snapshot kept, the older day goes and is not taken again.
        keep_one = settings.model_copy(update={"archive": settings.archive.model_copy(update={"keep_snapshots": 1})})
        assert await archive_round(retention, keep_one, now=round_at) == {}
        assert await archive_round(retention, keep_one, now=round_at) == {}
        archived = await list_snapshots(admin, repository)
        assert [(a.day, a.state, a.events) for a in archived] == [(day, "SUCCESS", 3)]

        config = tmp_path / "canhgac.yml"
        config.write_text(yaml.safe_dump(settings.model_dump(mode="json")), encoding="utf-8")
        restore = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "canhgac", "--config", str(config), "archive", "restore", "--day", day.isoformat()],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert restore.returncode == 0, restore.stdout + restore.stderr
        assert "3 events" in restore.stdout

        async with api.client("analyst") as analyst:
            search = {"archive_day": day.isoformat(), "query": "message:kho-bac"}
            found = (await analyst.post("/api/v1/events/search", json=search)).json()
            assert [e["event"]["id"] for e in found["items"]] == ["d-1"]
            every = (await analyst.post("/api/v1/events/search", json={"archive_day": day.isoformat()})).json()
            assert {e["event"]["id"] for e in every["items"]} == {"d-1", "d-2", "d-3"}
        async with api.client("agency_viewer") as agency:  # the agency filter holds in the archive too
            theirs = (await agency.post("/api/v1/events/search", json={"archive_day": day.isoformat()})).json()
            assert {e["event"]["id"] for e in theirs["items"]} == {"d-1", "d-3"}

        await drop_one(settings, day, "cli:lan")
        assert not await admin.indices.exists(index=restored_index(cfg, day))
        async with api.client("analyst") as analyst:
            gone = await analyst.post("/api/v1/events/search", json={"archive_day": day.isoformat()})
            assert gone.status_code == 404

        await admin.indices.refresh(index=cfg.audit_index)
        audit = await admin.search(
            index=cfg.audit_index,
            body={"query": {"terms": {"action": ["archive.restore", "archive.drop"]}}, "size": 10},
        )
        records = sorted((h["_source"]["action"], h["_source"]["target"]["id"]) for h in audit["hits"]["hits"])
        assert records == [("archive.drop", day.isoformat()), ("archive.restore", day.isoformat())]
    finally:
        await admin.indices.delete(index=restored_index(cfg, day), ignore=[404])
        for snapshot in (f"events-{day}", f"events-{day_before}"):
            await admin.snapshot.delete(repository=repository, snapshot=snapshot, ignore=[404])
        await admin.snapshot.delete_repository(repository=repository, ignore=[404])
        await retention.close()
        await admin.close()
