"""Managing the information systems inventory from the console in a real browser on the real API:
an admin adds a system in the form, changes its level, imports a CSV file (a good row and a bad one:
the refusal and the bad line are shown, nothing imported, then the good row alone is imported) and
deletes a system after confirming; an agency viewer sees no management buttons."""

from __future__ import annotations

import pytest

from tests.e2e.test_console_bugs import browser_page, console  # noqa: F401 (the fixture)
from tests.integration.api.conftest import PASSWORD

pytestmark = pytest.mark.e2e

GOOD = "mgr-good-csv,Một cửa điện tử,so-noivu,2,low,mc01,,\n"
BAD = "mgr-bad-csv,Hệ thống lỗi,so-noivu,9,low,,,\n"
HEADER = "id,name,agency,security_level,criticality,hosts,sources,contacts\n"


async def test_admin_manages_systems_and_agency_viewer_cannot(console, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from canhgac.api.users.models import UserCreate
    from canhgac.api.users.service import create_user
    from playwright.async_api import expect

    base, client, settings = console
    await create_user(
        client,
        settings.opensearch.users_index,
        UserCreate(username="mgr-xem", role="agency_viewer", agency="so-noivu", password=PASSWORD),
        by="test",
    )
    bad_file = tmp_path / "bad.csv"
    bad_file.write_text(HEADER + GOOD + BAD, encoding="utf-8")
    good_file = tmp_path / "good.csv"
    good_file.write_text(HEADER + GOOD, encoding="utf-8")

    async with browser_page(base, "lan", lang="en") as page:
        page.on("dialog", lambda d: d.accept())
        await page.click("nav a[href='#/systems']")
        await page.click("#system-new")
        form = page.locator("#system-form")
        await form.locator("input[name=id]").fill("mgr-portal")
        await form.locator("input[name=name]").fill("Cổng thông tin tỉnh")
        await form.locator("input[name=agency]").fill("so-noivu")
        await form.locator("select[name=security_level]").select_option("3")
        await form.locator("textarea[name=hosts]").fill("web01\nweb02")
        await form.locator("textarea[name=contacts]").fill("Nguyễn An | an@example.vn | 0901234567 | quản trị")
        await form.locator("button[type=submit]").click()
        await expect(page.locator("h1")).to_have_text("Cổng thông tin tỉnh")
        await expect(page.locator("dl.kv")).to_contain_text("Level 3")
        await expect(page.locator("dl.kv")).to_contain_text("web01, web02")

        await page.click("#system-edit")
        await page.locator("#system-form select[name=security_level]").select_option("4")
        await page.locator("#system-form button[type=submit]").click()
        await expect(page.locator("dl.kv")).to_contain_text("Level 4")

        await page.click("a[href='#/systems']")
        await page.set_input_files("#import-file", str(bad_file))
        problems = page.locator("#import-result .import-problems li")
        await expect(problems).to_have_count(1)
        await expect(problems).to_contain_text("Line 3:")
        await expect(page.locator("#import-result")).to_contain_text("nothing imported")
        await page.set_input_files("#import-file", str(good_file))
        await expect(page.locator("#import-result")).to_contain_text("Imported: 1 new, 0 updated.")

        await page.goto(f"{base}/#/systems/mgr-good-csv")
        await expect(page.locator("h1")).to_have_text("Một cửa điện tử")
        await page.click("#system-delete")
        await expect(page.locator("h1")).to_have_text("Information systems")
        await expect(page.locator("#systems-table tbody tr[data-system=mgr-portal]")).to_have_count(1)
        await expect(page.locator("#systems-table tbody tr[data-system=mgr-good-csv]")).to_have_count(0)

    async with browser_page(base, "mgr-xem", lang="en") as page:
        await page.click("nav a[href='#/systems']")
        await expect(page.locator("#systems-table tbody tr[data-system=mgr-portal]")).to_have_count(1)
        await expect(page.locator("#system-new, #system-import")).to_have_count(0)
        await page.click("#systems-table a")
        await expect(page.locator("h1")).to_have_text("Cổng thông tin tỉnh")
        await expect(page.locator("#system-edit, #system-delete")).to_have_count(0)
