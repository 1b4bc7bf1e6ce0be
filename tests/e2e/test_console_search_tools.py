"""The event view and the search tools of issue 14 (items 3 and 4) in a real browser (Debian's
chromium) against the real API on the real secured OpenSearch: the field table's filter for/out,
the rule's matched fields highlighted, surrounding events, an absolute range picked in Vietnam time
(the browser itself in Paris), the search in a shareable URL, a search saved and shared that a second
analyst opens, and a CSV export's content. One console per test, Vietnamese then English."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.e2e import test_console_bugs as bugs
from tests.e2e.test_console_bugs import browser_page, put_alert
from tests.integration.api.conftest import PASSWORD

console = bugs.console  # the API with the console, users `lan` (admin) and `hoa` (analyst), alert-a and alert-b

pytestmark = pytest.mark.e2e

VN = ZoneInfo("Asia/Ho_Chi_Minh")
ROWS = "table.results > tbody > tr:not(.detail-row)"


def vn_wall(ts: datetime) -> str:
    return ts.astimezone(VN).strftime("%Y-%m-%dT%H:%M")


async def test_event_view_and_search_tools_in_vietnamese(console) -> None:  # type: ignore[no-untyped-def]
    from playwright.async_api import expect

    base, client, settings = console
    await put_alert(
        client,
        settings,
        "alert-match",
        event_ids=["ev-a-1"],
        matched_fields=["message"],
        matched_conditions=[{"field": "message", "condition": 'keyword: "Failed password for"'}],
    )
    async with browser_page(base, timezone_id="Europe/Paris") as page:
        # From an alert: the field table, the rule's field highlighted, the surrounding events.
        await page.goto(base + "/#/alerts/alert-match")
        await expect(page.locator("h1")).to_have_text("SSH brute force")
        await page.locator("td.msg").first.click()
        detail = page.locator(".event-detail")
        await expect(detail.locator("pre.raw")).to_have_text("Failed password for root from 203.0.113.66")
        await expect(detail.locator("tr.matched")).to_have_count(1)
        await expect(detail.locator("tr.matched")).to_have_attribute("data-field", "message")
        await expect(detail.locator("tr.matched .badge")).to_have_text("khớp luật")
        # next to it, the rule's condition that held there (the detector's matched_conditions)
        await expect(detail.locator("tr.matched code.cond")).to_have_text('keyword: "Failed password for"')
        await expect(detail.locator(".matched-line code.hot")).to_have_text('message — keyword: "Failed password for"')
        await expect(detail.locator("tr[data-field='host.name'] td.fval")).to_have_text("web01")
        await detail.locator("select[name=around-minutes]").select_option("1")
        await detail.get_by_role("button", name="Xem").click()
        around = detail.locator(".around tbody tr")
        await expect(around).to_have_count(2)  # ev-a-1 and, a second later, ev-a-2 on web01
        await expect(around.nth(0)).to_have_class("current")
        await expect(around.nth(0)).to_contain_text("sự kiện này")
        await expect(around.nth(1)).to_contain_text("Accepted password for staff1")
        # Filter for, from the alert: a search for the value.
        await detail.locator("tr[data-field='event.id'] button[data-act=for]").click()
        await expect(page.locator("h1")).to_have_text("Tìm kiếm")
        await expect(page.locator("input[name=q]")).to_have_value('event.id:"ev-a-1"')
        await expect(page.locator(ROWS)).to_have_count(1)

        # In Search: filter out adds `NOT field:"value"` to the query, and the URL carries it.
        await page.fill("input[name=q]", "host.name:web01")
        await page.keyboard.press("Enter")
        await expect(page.locator(ROWS)).to_have_count(2)
        await page.locator(ROWS).filter(has_text="Accepted").locator("td.msg").click()
        await page.locator(".event-detail tr[data-field='event.id'] button[data-act=out]").click()
        await expect(page.locator("input[name=q]")).to_have_value('host.name:web01 AND NOT event.id:"ev-a-2"')
        await expect(page.locator(ROWS)).to_have_count(1)
        await expect(page.locator(ROWS)).to_contain_text("Failed password")
        assert "q=host.name%3Aweb01+AND+NOT+event.id" in page.url

        # Top values of any field: typed in the field browser.
        await page.fill("input[name=top-field]", "user.name")
        await page.keyboard.press("Enter")
        await expect(page.locator("#search-top .bar-row")).to_contain_text("root")

        # An absolute range in Vietnam time, sent in UTC (the browser is in Paris).
        now = datetime.now(UTC)
        start, end = now - timedelta(minutes=30), now + timedelta(minutes=5)
        await page.fill("input[name=q]", "host.name:web01")
        await page.select_option("select[name=range]", "abs")
        await page.fill("input[name=from]", vn_wall(start))
        await page.fill("input[name=to]", vn_wall(end))
        async with page.expect_request(lambda r: r.url.endswith("/api/v1/events/search")) as sent:
            await page.keyboard.press("Enter")
        body = (await sent.value).post_data_json
        assert body["start"] == start.replace(second=0, microsecond=0).isoformat(timespec="milliseconds")[:-6] + "Z"
        assert body["end"].endswith("Z")
        await expect(page.locator(ROWS)).to_have_count(2)
        await page.fill("input[name=from]", vn_wall(now - timedelta(days=2)))
        await page.fill("input[name=to]", vn_wall(now - timedelta(days=1)))
        await page.keyboard.press("Enter")
        await expect(page.locator("#main .empty")).to_be_visible()
        assert "from=" in page.url and "to=" in page.url
        await page.select_option("select[name=range]", "24h")
        await expect(page.locator(ROWS)).to_have_count(2)

        # Drag across the histogram's right half: the range becomes that absolute span.
        box = await page.locator("#search-chart svg").bounding_box()
        y = box["y"] + box["height"] / 2
        async with page.expect_request(lambda r: r.url.endswith("/api/v1/events/search")) as zoomed:
            await page.mouse.move(box["x"] + box["width"] * 0.5, y)
            await page.mouse.down()
            await page.mouse.move(box["x"] + box["width"] * 0.8, y, steps=4)
            await page.mouse.move(box["x"] + box["width"] - 2, y, steps=4)
            await page.mouse.up()
        zoom = (await zoomed.value).post_data_json
        span = datetime.fromisoformat(zoom["end"]) - datetime.fromisoformat(zoom["start"])
        assert timedelta(hours=10) < span < timedelta(hours=14), zoom
        await expect(page.locator("select[name=range]")).to_have_value("abs")
        await expect(page.locator(ROWS)).to_have_count(2)
        await page.select_option("select[name=range]", "24h")
        await expect(page.locator(ROWS)).to_have_count(2)

        # Export as CSV: the file holds the rows, the toast says how many.
        async with page.expect_download() as download:
            await page.click("button[name=export-csv]")
        path = await (await download.value).path()
        rows = list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8"))))
        assert sorted(r["message"] for r in rows) == [
            "Accepted password for staff1",
            "Failed password for root from 203.0.113.66",
        ]
        assert {r["host.name"] for r in rows} == {"web01"}
        await expect(page.locator("#toast")).to_contain_text("Đã xuất 2 dòng")

        # Saved and shared with the team.
        await page.click("button[name=save-search]")
        dialog = page.locator("dialog[open]")
        await dialog.locator("input[name=saved-name]").fill("SSH web01")
        await dialog.locator("input[name=saved-shared]").check()
        await dialog.get_by_role("button", name="Lưu").click()
        await expect(page.locator("#toast")).to_contain_text("Đã lưu tìm kiếm")
    # The same console (its start is most of the time) for the English part.
    await shared_search_and_shared_link_in_english(console)


async def shared_search_and_shared_link_in_english(console) -> None:  # type: ignore[no-untyped-def]
    from canhgac.api.users.models import UserCreate
    from canhgac.api.users.service import create_user
    from playwright.async_api import expect

    base, client, settings = console
    await create_user(
        client,
        settings.opensearch.users_index,
        UserCreate(username="mai", role="analyst", password=PASSWORD),
        by="test",
    )
    async with browser_page(base, "hoa", lang="en") as page:
        # The rule's condition on the field it fired on, in English.
        await page.goto(base + "/#/alerts/alert-match")
        await page.locator("td.msg").first.click()
        matched = page.locator(".event-detail tr.matched")
        await expect(matched.locator(".badge")).to_have_text("rule matched")
        await expect(matched.locator("code.cond")).to_have_text('keyword: "Failed password for"')
        await page.click("nav a[href='#/search']")
        await page.fill("input[name=q]", "host.name:hospital01")
        await page.keyboard.press("Enter")
        await expect(page.locator(ROWS)).to_have_count(1)
        await page.click("button[name=save-search]")
        dialog = page.locator("dialog[open]")
        await dialog.locator("input[name=saved-name]").fill("Hospital")
        await dialog.locator("input[name=saved-shared]").check()
        await dialog.get_by_role("button", name="Save").click()
        await expect(page.locator("#toast")).to_contain_text("Search saved")
        # Export in English: NDJSON this time, one event per line.
        async with page.expect_download() as download:
            await page.click("button[name=export-ndjson]")
        path = await (await download.value).path()
        lines = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line]
        assert [e["host"]["name"] for e in lines] == ["hospital01"]
        await expect(page.locator("#toast")).to_contain_text("Exported 1 rows")
        # The field table in English: filter for.
        await page.locator(ROWS).first.locator("td.msg").click()
        await page.get_by_role("button", name="Filter for this value: user.name").click()
        await expect(page.locator("input[name=q]")).to_have_value('host.name:hospital01 AND user.name:"root"')
        await expect(page.locator(ROWS)).to_have_count(1)
        shared_link = page.url

    async with browser_page(base, "mai", lang="en") as page:
        # A second analyst opens the shared search from the list.
        await page.click("nav a[href='#/search']")
        saved = page.locator("select[name=saved]")
        await expect(saved.locator("option", has_text="Hospital · shared by hoa")).to_have_count(1)
        await saved.select_option(label="Hospital · shared by hoa")
        await expect(page.locator("input[name=q]")).to_have_value("host.name:hospital01")
        await expect(page.locator(ROWS)).to_have_count(1)
        await expect(page.locator(ROWS)).to_contain_text("hospital01")
        # And the link hoa copied reruns hoa's search.
        await page.goto(base + "/#/alerts")
        await expect(page.locator("h1")).to_have_text("Alert queue")
        await page.goto(shared_link)
        await expect(page.locator("input[name=q]")).to_have_value('host.name:hospital01 AND user.name:"root"')
        await expect(page.locator(ROWS)).to_have_count(1)
