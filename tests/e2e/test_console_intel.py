"""The console's threat-intel and enrichment pages in a real browser (Debian's chromium) against
the real API on the real OpenSearch: on the Indicators page an analyst sees the feeds' health,
adds an indicator, imports a CSV bulletin and expires an indicator; an alert shows the indicator it
met; a watch list is made on the Lists page and a lookup table is shown; Vietnamese and English."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import eventually
from tests.e2e.test_console_bugs import browser_page, console, put_alert  # noqa: F401  (fixture)
from tests.integration.api.conftest import PASSWORD, iso

pytestmark = pytest.mark.e2e

LIST_RULE_ID = "3c9e1d2b-7a6f-4e5d-9c8b-1a2b3c4d5e6f"
LIST_RULE = f"""title: From a scanner
id: {LIST_RULE_ID}
logsource: {{product: linux}}
detection:
  sel:
    source.ip|expand: '%list:scanners%'
  condition: sel
"""
LIST_EVENTS = [{"source": {"ip": "10.1.2.3"}}, {"source": {"ip": "192.0.2.1"}}]
BULLETIN = b"value,type,confidence,reason\n198.51.100.23,ipv4,80,C2 server\nevil-bulletin.example,domain,70,phishing\n"


async def seed_feeds_and_table(client: Any, settings: Any) -> None:
    """Two feeds as the poller leaves them (one healthy, one stale) and a lookup table."""
    now = datetime.now(UTC)
    common = {
        "interval_secs": 3600,
        "confidence": 70,
        "severity": "high",
        "expires_days": 90,
        "enabled": True,
        "created_by": "test",
        "cursor": None,
        "last_error": None,
        "headers": {},
        "password": None,
    }
    feeds = {
        "ncsc-taxii": {
            **common,
            "kind": "taxii",
            "url": "http://127.0.0.1:9/api1/",
            "collection": "c1",
            "created_at": iso(now - timedelta(days=2)),
            "last_success_at": iso(now - timedelta(minutes=20)),
            "last_attempt_at": iso(now - timedelta(minutes=20)),
            "last_count": 12,
        },
        "misp-osint": {
            **common,
            "kind": "misp",
            "url": "http://127.0.0.1:9/feeds/",
            "created_at": iso(now - timedelta(days=3)),
            "last_success_at": iso(now - timedelta(days=1)),
            "last_attempt_at": iso(now),
            "last_error": "connection refused",
            "last_count": 3,
        },
    }
    for feed_id, doc in feeds.items():
        await client.index(
            index=settings.opensearch.intel_feeds_index, id=feed_id, body={"id": feed_id, **doc}, refresh="wait_for"
        )
    await client.index(
        index=settings.opensearch.lookups_index,
        id="assets",
        body={
            "name": "assets",
            "description": "Tài sản Sở Y tế",
            "rows": [{"match": "10.20.0.0/16", "agency": "so-yte", "owner": "Phòng CNTT"}],
        },
        refresh="wait_for",
    )


async def test_indicators_lists_and_lookups_pages(console) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from playwright.async_api import expect

    base, client, settings = console
    await seed_feeds_and_table(client, settings)
    await put_alert(
        client,
        settings,
        "alert-ioc",
        indicator={
            "id": "ioc-1",
            "type": "domain",
            "value": "evil-c2.example",
            "feed": "ncsc-taxii",
            "confidence": 85,
            "severity": "high",
            "tags": ["attack.t1071"],
            "reason": "C2 of a campaign",
            "field": "dns.question.name",
            "observed": "cdn.evil-c2.example",
        },
    )
    async with browser_page(base, "hoa", lang="vi") as page:
        await page.goto(base + "/#/indicators")
        await expect(page.locator("h1")).to_have_text("Chỉ dấu tấn công (IOC)")
        health = page.locator("#feed-health")
        await expect(health.locator("tr[data-feed=misp-osint]")).to_contain_text("Quá hạn cập nhật")
        await expect(health.locator("tr[data-feed=ncsc-taxii]")).to_contain_text("Bình thường")
        await expect(health.locator("tr[data-feed=ncsc-taxii]")).to_contain_text("12")

        # Add one by hand (defanged, as bulletins write them).
        form = page.locator("#ioc-add")
        await form.locator("select[name=type]").select_option("domain")
        await form.locator("input[name=value]").fill("login-dichvucong[.]example")
        await form.locator("input[name=reason]").fill("Trang giả mạo")
        await form.locator("button[type=submit]").click()
        row = page.locator("#ioc-table tr[data-value='login-dichvucong.example']")
        await expect(row).to_contain_text("Còn hiệu lực")

        # Import a CSV bulletin.
        upload = page.locator("#ioc-import")
        await upload.locator("input[type=file]").set_input_files(
            {"name": "bulletin.csv", "mimeType": "text/csv", "buffer": BULLETIN}
        )
        await upload.locator("input[name=feed]").fill("bulletin-12-2026")
        await upload.locator("button[type=submit]").click()
        await expect(page.locator("#ioc-import-result")).to_contain_text("Đã lưu 2 chỉ dấu")
        filters = page.locator("#ioc-filters")
        await filters.locator("input[name=feed]").fill("bulletin-12-2026")
        await filters.locator("button[type=submit]").click()
        await expect(page.locator("#ioc-table tbody tr")).to_have_count(2)
        await expect(page.locator("#ioc-table tr[data-value='198.51.100.23']")).to_contain_text("80")

        # Expire one.
        page.on("dialog", lambda d: d.accept())
        await page.locator("#ioc-table tr[data-value='198.51.100.23'] .ioc-expire").click()
        await expect(page.locator("#ioc-table tr[data-value='198.51.100.23']")).to_contain_text("Đã hết hạn")

        # The alert's indicator context.
        await page.goto(base + "/#/alerts/alert-ioc")
        panel = page.locator("#indicator-context")
        await expect(panel).to_contain_text("Chỉ dấu tình báo mối đe doạ")
        await expect(panel).to_contain_text("evil-c2.example")
        await expect(panel).to_contain_text("ncsc-taxii")
        await expect(panel).to_contain_text("85")

        # English: the same pages, and a watch list made on the Lists page.
        await page.locator("#lang-toggle").click()
        await page.goto(base + "/#/indicators")
        await expect(page.locator("h1")).to_have_text("Indicators of compromise")
        await expect(page.locator("#feed-health tr[data-feed=misp-osint]")).to_contain_text("Stale")
        await page.goto(base + "/#/lists")
        await expect(page.locator("h1")).to_have_text("Watch and allow lists")
        new = page.locator("#list-new")
        await new.locator("input[name=name]").fill("scanners")
        await new.locator("select[name=type]").select_option("ip")
        await new.locator("textarea[name=values]").fill("10.0.0.0/8\n203.0.113.7")
        await new.locator("button[type=submit]").click()
        await expect(page.locator("form[data-list=scanners]")).to_contain_text("2 values")
        await expect(page.locator("form[data-list=scanners]")).to_contain_text("%list:scanners%")
        await page.goto(base + "/#/lookups")
        await expect(page.locator("h1")).to_have_text("Asset lookup tables")
        await expect(page.locator("[data-table=assets]")).to_contain_text("Phòng CNTT")
    stored = (await client.get(index=settings.opensearch.lists_index, id="scanners"))["_source"]
    assert stored["values"] == ["10.0.0.0/8", "203.0.113.7"]

    async def audited() -> list[dict[str, Any]] | None:  # the audit log is searched: within a refresh
        await client.indices.refresh(index=settings.opensearch.audit_index)
        found = await client.search(
            index=settings.opensearch.audit_index, body={"size": 20, "query": {"match": {"action": "list.put"}}}
        )
        return [h["_source"] for h in found["hits"]["hits"] if h["_source"]["target"]["id"] == "scanners"] or None

    record = (await eventually(audited, timeout_secs=30))[0]
    assert record["actor"]["username"] == "hoa" and record["details"] == {"type": "ip", "count": 2}

    # Testing a pasted rule that names the list reads the list as stored now.
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        login = await http.post("/api/v1/auth/login", json={"username": "hoa", "password": PASSWORD})
        http.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        tested = await http.post("/api/v1/rules/test", json={"yaml": LIST_RULE, "events": LIST_EVENTS})
    assert tested.status_code == 200, tested.text
    assert [r["matched"] for r in tested.json()["results"]] == [[LIST_RULE_ID], []]
