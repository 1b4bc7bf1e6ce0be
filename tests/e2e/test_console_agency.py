"""Agency self-service in the console (issue 16, item 4), in a real browser on the real API: an
agency analyst sees the triage buttons and "Request exception" on its own agency's alert (no case
or assignment buttons), sends a request; a SOC analyst approves it on the requests page."""

from __future__ import annotations

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
