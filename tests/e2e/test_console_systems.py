"""The information systems page and a system's coverage page in a real browser on the real API:
level, owner agency, a green/red mark per required log category with "missing since" in Vietnam
time, the open coverage alert; Vietnamese and English; an agency viewer sees its agency's systems
only."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.test_console_bugs import browser_page, console  # noqa: F401 (the fixture)
from tests.integration.api.conftest import PASSWORD, iso

pytestmark = pytest.mark.e2e


async def test_systems_list_and_coverage_page_show_missing_categories(console) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from canhgac.api.compliance.service import PolicyFile, coverage_index, coverage_round, state_id
    from canhgac.api.users.models import UserCreate
    from canhgac.api.users.service import create_user
    from canhgac.core.store import events_index
    from canhgac.core.systems import systems_index
    from playwright.async_api import expect

    base, client, settings = console
    now = datetime.now(UTC).replace(microsecond=0)
    network_last = now - timedelta(hours=30)  # older than level 3's 24 h: missing since then
    for system in (
        {
            "id": "cong-dvc",
            "name": "Cổng Dịch vụ công",
            "agency": "so-tttt",
            "security_level": 3,
            "criticality": "high",
            "hosts": ["web01"],
            "sources": ["fw-tttt"],
            "contacts": [],
        },
        {
            "id": "his-bv",
            "name": "HIS bệnh viện",
            "agency": "so-yte",
            "security_level": 2,
            "criticality": "medium",
            "hosts": ["hospital01"],
            "sources": [],
            "contacts": [],
        },
    ):
        await client.index(index=systems_index(settings.opensearch), id=system["id"], body=system, refresh=True)
    # Watched for three days already (so a category never seen is missing since then).
    for sid in ("cong-dvc", "his-bv"):
        await client.index(
            index=coverage_index(settings.opensearch),
            id=state_id(sid),
            body={"kind": "state", "system_id": sid, "watched_since": iso(now - timedelta(days=3))},
            refresh=True,
        )
    stream = events_index(settings.opensearch.index_prefix, "test.coverage")
    for n, (category, host, source, ts) in enumerate(
        (
            ("authentication", "web01", "syslog-tttt", now - timedelta(minutes=5)),
            ("network", "fw01", "fw-tttt", network_last),
        )
    ):
        await client.index(
            index=stream,
            op_type="create",
            body={
                "@timestamp": iso(ts),
                "event": {"id": f"cov-{n}", "category": [category], "ingested": iso(ts)},
                "host": {"name": host},
                "canhgac": {"agency": "so-tttt", "source_id": source},
            },
        )
    await client.indices.refresh(index=f"{settings.opensearch.index_prefix}.*")

    async def published(alert: dict[str, object]) -> bool:
        return True  # the browser test needs the claims (open alerts), not Kafka

    policy = PolicyFile(settings.compliance.policy_file).current()
    await coverage_round(client, settings, policy, published, now)
    await create_user(
        client,
        settings.opensearch.users_index,
        UserCreate(username="yte-xem", role="agency_viewer", agency="so-yte", password=PASSWORD),
        by="test",
    )

    local = (network_last + timedelta(hours=7)).strftime("%H:%M")  # Asia/Ho_Chi_Minh (GMT+7)
    async with browser_page(base, "lan") as page:
        await page.click("nav a[href='#/systems']")
        await expect(page.locator("h1")).to_have_text("Hệ thống thông tin")
        row = page.locator("#systems-table tbody tr[data-system=cong-dvc]")
        await expect(row).to_contain_text("Cấp 3")
        await expect(row).to_contain_text("so-tttt")
        await expect(row.locator(".cov-mark")).to_have_count(5)  # level 3 requires five categories
        await expect(row.locator(".cov-ok[data-category=authentication]")).to_have_text("Xác thực")
        network = row.locator(".cov-missing[data-category=network]")
        await expect(network).to_have_attribute("title", re.compile(rf"^thiếu từ .*{local}"))
        await expect(row).to_contain_text("Thiếu 4 loại")  # network, admin, system, web

        await row.get_by_role("link", name="Cổng Dịch vụ công").click()
        await expect(page.locator("h1")).to_have_text("Cổng Dịch vụ công")
        cells = page.locator("#coverage-table tbody tr[data-category=network] td")
        await expect(cells.nth(2)).to_have_text("Thiếu")
        await expect(cells.nth(4)).to_contain_text(local)
        await expect(page.locator("#coverage-table tbody tr[data-category=database] td").nth(2)).to_have_text(
            "Không bắt buộc"
        )
        await expect(page.locator(".cov-alerts li")).to_have_count(4)
        await expect(page.locator(".cov-alerts")).to_contain_text("Cảnh báo: thiếu log Mạng/tường lửa")

        await page.click("#lang-toggle")  # English
        await expect(page.locator("#coverage-table thead")).to_contain_text("Missing since")
        await expect(page.locator("#coverage-table tbody tr[data-category=network] td").nth(2)).to_have_text("Missing")

    # An agency viewer sees its own agency's system only.
    async with browser_page(base, "yte-xem", lang="en") as page:
        await page.click("nav a[href='#/systems']")
        rows = page.locator("#systems-table tbody tr")
        await expect(rows).to_have_count(1)
        await expect(rows).to_have_attribute("data-system", "his-bv")
        await expect(rows).to_contain_text("Level 2")
