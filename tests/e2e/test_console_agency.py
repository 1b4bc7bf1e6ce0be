"""Agency self-service in the console (issue 16, item 4), in a real browser on the real API: an
agency analyst sees the triage buttons and "Request exception" on its own agency's alert (no case
or assignment buttons), sends a request; a SOC analyst approves it on the requests page."""

from __future__ import annotations

import re

import pytest

from tests.e2e.test_console_bugs import browser_page, console  # noqa: F401 (the fixture)
from tests.integration.api.conftest import PASSWORD

pytestmark = pytest.mark.e2e


async def test_agency_analyst_requests_an_exception_a_soc_analyst_approves(console) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from canhgac.api.users.models import UserCreate
    from canhgac.api.users.service import create_user
    from playwright.async_api import expect

    base, client, settings = console
    await create_user(
        client,
        settings.opensearch.users_index,
        UserCreate(username="phuong", role="agency_analyst", agency="so-tttt", password=PASSWORD),
        by="test",
    )
    async with browser_page(base, "phuong", lang="en") as page:
        await page.goto(base + "/#/alerts/alert-a")
        actions = page.locator(".pagehead .actions, .pagehead .row.right")
        await expect(actions.get_by_role("button", name="Acknowledge")).to_be_visible()
        await expect(actions.get_by_role("button", name="Close")).to_be_visible()
        await expect(page.locator("#make-case")).to_have_count(0)
        await page.click("#request-exception")
        await expect(page.locator("#request-form")).to_be_visible()
        await page.fill("#request-form textarea[name=reason]", "our vulnerability scanner")
        await page.click("#request-form button[type=submit]")
        row = page.locator("#request-table tbody tr")
        await expect(row).to_have_count(1)
        await expect(row).to_have_attribute("data-state", "requested")
        await expect(row.get_by_role("button", name="Approve")).to_have_count(0)  # the SOC decides
        # Another agency's alert does not exist for it.
        await page.goto(base + "/#/alerts/alert-b")
        await expect(page.locator("#request-exception")).to_have_count(0)
        await expect(page.locator("h1")).to_have_text("Error")

    async with browser_page(base, "hoa", lang="en") as page:
        page.on("dialog", lambda dialog: dialog.accept("known scanner"))
        await page.goto(base + "/#/exception-requests")
        row = page.locator("#request-table tbody tr")
        await expect(row).to_have_attribute("data-state", "requested")
        await row.get_by_role("button", name="Approve").click()
        await expect(row).to_have_attribute("data-state", "approved")
        await expect(row).to_contain_text("hoa: known scanner")
    await agency_analyst_on_case_pages(base)


async def agency_analyst_on_case_pages(base: str) -> None:
    """Issue 14: an agency analyst (Vietnamese) lists its own agency's case only, moves it and
    comments on it; the fields and the SOC's buttons are not offered; another agency's case (and a
    SOC case holding another agency's alert) does not exist for it."""
    import httpx
    from playwright.async_api import expect

    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        me = (await http.post("/api/v1/auth/login", json={"username": "hoa", "password": PASSWORD})).json()
        http.headers["X-CSRF-Token"] = me["csrf_token"]
        ids = {}
        for name, alerts in (("own", ["alert-a"]), ("other", ["alert-b"]), ("soc", ["alert-a", "alert-b"])):
            body = {"alert_ids": alerts, "title": f"Sự cố {name}", "assignee": "hoa" if name == "own" else None}
            resp = await http.post("/api/v1/cases", json=body)
            assert resp.status_code == 201, resp.text
            ids[name] = resp.json()["id"]

    async with browser_page(base, "phuong") as page:
        await page.goto(base + "/#/cases")
        rows = page.locator("#cases-table tbody tr[data-id]")
        await expect(rows).to_have_count(1)
        await expect(rows).to_have_attribute("data-id", ids["own"])
        await expect(page.locator(".case-filters input[name=agency]")).to_have_count(0)  # its agency only anyway
        await rows.locator("a").click()
        await expect(page.locator("h1")).to_have_text("Sự cố own")
        await expect(page.locator("input[name=title]")).to_be_disabled()  # the fields are the SOC's
        await expect(page.locator("#report-sent")).to_have_count(0)
        await page.get_by_role("button", name="Bắt đầu điều tra").click()
        await expect(page.locator(".pagehead .badge")).to_have_text("Đang điều tra")
        await page.fill("textarea[name=comment]", "Đã cô lập máy web01")
        await page.get_by_role("button", name="Thêm ghi chú").click()
        comment = page.locator("li[data-kind=comment]")
        await expect(comment).to_contain_text("Đã cô lập máy web01")
        await expect(comment.locator("b")).to_have_text("phuong")
        await expect(page.locator("li[data-kind=status]")).to_contain_text("phuong")
        for other in (ids["other"], ids["soc"]):
            await page.goto(f"{base}/#/cases/{other}")
            await expect(page.locator("h1")).to_have_text("Lỗi")

    # The SOC's cases list (English): its filters are in the address, "Mine", and a hint when none match.
    async with browser_page(base, "hoa", lang="en") as page:
        await page.goto(base + "/#/cases?agency=so-yte")
        rows = page.locator("#cases-table tbody tr[data-id]")
        await expect(rows).to_have_count(2)
        assert sorted(await rows.evaluate_all("rs => rs.map(r => r.dataset.id)")) == sorted([ids["other"], ids["soc"]])
        await expect(page.locator(".case-filters input[name=agency]")).to_have_value("so-yte")
        await page.click("#my-cases")
        await expect(page.locator("#cases-table tbody td.empty")).to_have_text("No case matches these filters.")
        await expect(page).to_have_url(re.compile(r"#/cases\?assignee=hoa&agency=so-yte$"))
        await page.click("#clear-case-filters")
        await expect(rows).to_have_count(3)
        await expect(page).to_have_url(re.compile(r"#/cases$"))
        await page.click("#my-cases")
        await expect(rows).to_have_count(1)
        await expect(rows).to_have_attribute("data-id", ids["own"])
