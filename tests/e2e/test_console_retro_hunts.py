"""The console's retro-hunt page in a real browser (Debian's chromium) against the real API on the
real OpenSearch: jobs as the runner leaves them (running, queued, done) are listed with their
trigger, state, progress, times and hits (and the alerts still waiting to be published); cancelling
the queued job cancels it at once, cancelling the running one leaves it "cancel requested";
Vietnamese, then English."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.test_console_bugs import browser_page, console  # noqa: F401  (fixture)
from tests.integration.api.conftest import iso

pytestmark = pytest.mark.e2e


async def seed_jobs(client: Any, settings: Any) -> None:
    """A running job leased to a runner elsewhere (so the console's own runner claims nothing and
    leaves the queued one queued), a queued one and a finished one."""
    from canhgac.api.retro.service import ensure_jobs_index, jobs_index

    await ensure_jobs_index(client, settings.opensearch)
    now = datetime.now(UTC)
    base = {
        "lookback_days": 30,
        "events_scanned": 0,
        "events_matched": 0,
        "alerts_raised": 0,
        "alerts_existing": 0,
        "cancel_requested": False,
        "progress": {"percent": 0.0, "segment": 0, "segments": 0, "segment_total": 0},
    }
    jobs = [
        {
            **base,
            "id": "hunt-running",
            "kind": "indicators",
            "state": "running",
            "trigger": "feed:ncsc-taxii",
            "created_by": "feed:ncsc-taxii",
            "indicator_count": 120,
            "created_at": iso(now - timedelta(minutes=5)),
            "started_at": iso(now - timedelta(minutes=4)),
            "updated_at": iso(now),
            "lease_owner": "elsewhere",
            "lease_until": iso(now + timedelta(hours=1)),
            "progress": {"percent": 42.0, "segment": 2, "segments": 4, "segment_total": 900},
            "events_scanned": 2100,
            "events_matched": 3,
            "alerts_raised": 2,
            "unpublished": ["a-refused-1", "a-refused-2"],  # Kafka has not acknowledged them yet
        },
        {
            **base,
            "id": "hunt-queued",
            "kind": "rule",
            "state": "queued",
            "trigger": "rule.upload",
            "created_by": "lan",
            "rule_id": "r-webshell",
            "created_at": iso(now - timedelta(minutes=1)),
            "updated_at": iso(now - timedelta(minutes=1)),
        },
        {
            **base,
            "id": "hunt-done",
            "kind": "indicators",
            "state": "done",
            "trigger": "indicator.import",
            "created_by": "hoa",
            "indicator_count": 7,
            "created_at": iso(now - timedelta(hours=2)),
            "started_at": iso(now - timedelta(hours=2)),
            "finished_at": iso(now - timedelta(hours=1, minutes=55)),
            "updated_at": iso(now - timedelta(hours=1, minutes=55)),
            "progress": {"percent": 100.0, "segment": 1, "segments": 1, "segment_total": 40},
            "events_scanned": 40,
            "events_matched": 5,
            "alerts_raised": 4,
            "alerts_existing": 1,
        },
    ]
    for job in jobs:
        await client.index(index=jobs_index(settings.opensearch), id=job["id"], body=job, refresh="wait_for")


async def test_retro_hunt_jobs_listed_and_cancelled(console) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from playwright.async_api import expect

    base, client, settings = console
    await seed_jobs(client, settings)
    async with browser_page(base, "lan", lang="vi") as page:
        page.on("dialog", lambda dialog: dialog.accept())
        await page.locator("#nav a[href='#/retro-hunts']").click()
        await expect(page.locator("h1")).to_have_text("Truy quét hồi tố (retro-hunt)")
        table = page.locator("#hunt-table")
        running, queued, done = (table.locator(f"tr[data-job=hunt-{n}]") for n in ("running", "queued", "done"))
        await expect(running).to_contain_text("120 chỉ dấu")
        await expect(running).to_contain_text("nguồn tin ncsc-taxii")
        await expect(running).to_contain_text("Đang chạy")
        await expect(running).to_contain_text("42 %")
        await expect(running).to_contain_text("truy vấn 2/4")
        await expect(running.locator(".hunt-unpublished")).to_have_text("2 cảnh báo chờ gửi đi")
        await expect(queued).to_contain_text("Luật r-webshell")
        await expect(queued).to_contain_text("Đang chờ")
        await expect(done).to_contain_text("Hoàn tất")
        await expect(done.locator(".hunt-hits")).to_have_text("4")
        await expect(done).to_contain_text("1 nhóm đã có cảnh báo")
        await expect(done.locator(".hunt-cancel")).to_have_count(0)
        await expect(done.locator(".hunt-unpublished")).to_have_count(0)
        # Newest first, as the API lists them.
        assert await table.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.job)") == [
            "hunt-queued",
            "hunt-running",
            "hunt-done",
        ]

        await queued.locator(".hunt-cancel").click()
        await expect(queued).to_contain_text("Đã huỷ")
        await expect(queued.locator(".hunt-cancel")).to_have_count(0)
        await running.locator(".hunt-cancel").click()
        await expect(running).to_contain_text("đã yêu cầu huỷ")
        await expect(running.locator(".hunt-cancel")).to_have_count(0)
        stored = await client.get(index=f"{settings.opensearch.config_index_prefix}-retro-jobs", id="hunt-running")
        assert stored["_source"]["cancel_requested"] is True and stored["_source"]["cancelled_by"] == "lan"

        await page.locator("#lang-toggle").click()
        await expect(page.locator("h1")).to_have_text("Retro-hunts")
        await expect(running).to_contain_text("Running")
        await expect(running).to_contain_text("cancel requested")
        await expect(running.locator(".hunt-unpublished")).to_have_text("2 alerts waiting to be published")
        await expect(queued).to_contain_text("Cancelled")
        await expect(done).to_contain_text("indicator file imported")
