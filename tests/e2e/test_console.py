"""The console in a real browser (Debian's chromium, headless) against the real API and OpenSearch:
log in, see an alert arrive live, triage it from the keyboard, close it as a false positive with a
comment, find its event in search, switch the language. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from tests.e2e.console_harness import SHOTS, browser_page, serve_api
from tests.integration.api.conftest import PASSWORD, cleanup, make_alert, make_event, seed

pytestmark = pytest.mark.e2e


@pytest.fixture
async def console(test_settings):  # type: ignore[no-untyped-def]
    from canhgac.api.indices import ensure_api_indices
    from canhgac.api.users.models import UserCreate
    from canhgac.api.users.service import create_user
    from canhgac.core.store import make_client

    settings = test_settings.model_copy(update={"api": test_settings.api.model_copy(update={"stream_poll_secs": 0.3})})
    await seed(settings)
    client = make_client(settings.opensearch, component="admin")
    await ensure_api_indices(client, settings.opensearch)
    await create_user(
        client,
        settings.opensearch.users_index,
        UserCreate(username="lan", role="admin", display_name="Nguyễn Thị Lan", password=PASSWORD),
        by="test",
    )
    try:
        async with serve_api(settings) as base:
            yield base, client, settings
    finally:
        await client.close()
        await cleanup(settings)


async def test_console_triage_flow(console) -> None:  # type: ignore[no-untyped-def]
    from playwright.async_api import expect

    base, client, settings = console
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with browser_page(base, user=None, lang=None) as page:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

        await page.goto(base + "/")
        await expect(page.get_by_role("button", name="Đăng nhập")).to_be_visible()
        await page.screenshot(path=str(SHOTS / "01-login.png"))
        await page.fill("#login-user", "lan")
        await page.fill("#login-pass", "wrong password!")
        await page.click("button[type=submit]")
        await expect(page.get_by_role("alert")).to_contain_text("Sai tên đăng nhập")
        await page.fill("#login-pass", PASSWORD)
        await page.click("button[type=submit]")

        await expect(page.locator("h1")).to_have_text("Hàng đợi cảnh báo")
        await expect(page.locator("tbody tr")).to_have_count(2)
        await expect(page.locator("#live")).to_have_text("Trực tiếp")

        # A new alert lands in the index: the queue shows it without a reload.
        now = datetime.now(UTC)
        stream = f"{settings.opensearch.index_prefix}.test.auth-default"
        await client.index(
            index=stream,
            op_type="create",
            refresh="wait_for",
            body=make_event("ev-live-1", "so-tttt", "Failed password for admin from 203.0.113.99", now, "tthdl-app01"),
        )
        live = make_alert("alert-live", "so-tttt", ["ev-live-1"], now, severity="critical", host="tthdl-app01")
        live["rule"]["title"] = "Đăng nhập SSH thất bại liên tiếp"
        await client.index(index=settings.opensearch.alerts_index, id="alert-live", body=live, refresh="wait_for")
        row = page.locator("tbody tr", has_text="Đăng nhập SSH thất bại liên tiếp")
        await expect(row).to_be_visible(timeout=15_000)
        await expect(page.locator("tbody tr")).to_have_count(3)
        await page.screenshot(path=str(SHOTS / "02-queue-live.png"))

        # Keyboard triage in the queue: k to the top row (the live alert), a acknowledges it.
        for _ in range(3):
            await page.keyboard.press("k")
        await expect(page.locator("tbody tr.sel")).to_contain_text("Đăng nhập SSH thất bại liên tiếp")
        await page.keyboard.press("a")
        await expect(row).to_have_count(0)  # it left the "new" tab
        doc = await client.get(index=settings.opensearch.alerts_index, id="alert-live")
        assert doc["_source"]["status"] == "acknowledged" and doc["_source"]["assignee"] == "lan"

        # Open it; close it as a false positive with a comment.
        await page.goto(base + "/#/alerts/alert-live")
        await expect(page.locator("h1")).to_have_text("Đăng nhập SSH thất bại liên tiếp")
        await expect(page.locator(".panel", has_text="Luật phát hiện")).to_contain_text("Canhgac SOC")
        await expect(page.locator("td.msg")).to_contain_text("Failed password for admin")
        await page.keyboard.press("c")
        dialog = page.locator("dialog[open]")
        await expect(dialog).to_be_visible()
        await dialog.get_by_text("Cảnh báo sai").click()
        await dialog.locator("textarea").fill("Quản trị viên gõ sai mật khẩu khi đổi khoá SSH.")
        await dialog.get_by_role("button", name="Đóng").click()
        await expect(page.locator(".pagehead .badge").first).to_have_text("Đã đóng")
        await expect(page.locator(".comment")).to_contain_text("gõ sai mật khẩu")
        await expect(page.locator(".timeline")).to_contain_text("Cảnh báo sai")
        await page.screenshot(path=str(SHOTS / "03-alert-closed.png"), full_page=True)
        doc = await client.get(index=settings.opensearch.alerts_index, id="alert-live")
        assert doc["_source"]["status"] == "closed" and doc["_source"]["resolution"] == "false_positive"

        # Search finds its event.
        await page.click("nav a[href='#/search']")
        await page.fill("input[name=q]", "event.id:ev-live-1")
        await page.keyboard.press("Enter")
        await expect(page.locator("table.results tbody tr")).to_have_count(1)
        await expect(page.locator("table.results")).to_contain_text("203.0.113.99")
        await page.screenshot(path=str(SHOTS / "04-search.png"))
        await page.fill("input[name=q]", "*admin")
        await page.keyboard.press("Enter")
        # The API's refusal, in Vietnamese.
        await expect(page.locator(".empty.error")).to_contain_text("ký tự đại diện ở đầu")

        await page.click("nav a[href='#/dashboard']")
        await expect(page.locator("h1")).to_have_text("Tổng quan")
        await expect(page.locator(".chart svg").first).to_be_visible()
        await page.screenshot(path=str(SHOTS / "05-dashboard.png"), full_page=True)

        await page.click("nav a[href='#/users']")
        await expect(page.locator("tbody")).to_contain_text("lan")
        await page.screenshot(path=str(SHOTS / "06-users.png"))

        # English, and it sticks across pages.
        await page.click("#lang-toggle")
        await expect(page.locator("nav a[href='#/alerts']")).to_have_text("Alerts")
        await page.click("nav a[href='#/alerts']")
        await expect(page.locator("h1")).to_have_text("Alert queue")
        await page.get_by_role("tab", name="All").click()
        await expect(page.locator("tbody tr")).to_have_count(3)
        await page.screenshot(path=str(SHOTS / "07-queue-english.png"))
        assert not [e for e in errors if "401" not in e and "400" not in e], errors  # 401: before login; 400: *admin


async def test_console_exceptions_rules_and_sources(console) -> None:  # type: ignore[no-untyped-def]
    """An exception made from an alert's page (fields filled in), deleted; a rule turned off; a bad
    upload refused with its reason and a good one listed; a source declared with its key shown once."""
    from playwright.async_api import expect

    base, client, settings = console
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with browser_page(base, user=None, lang=None) as page:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
        await page.goto(base + "/")
        await page.fill("#login-user", "lan")
        await page.fill("#login-pass", PASSWORD)
        await page.click("button[type=submit]")
        await expect(page.locator("h1")).to_have_text("Hàng đợi cảnh báo")

        await page.goto(base + "/#/alerts/alert-a")
        await page.click("#make-exception")
        form = page.locator("#exception-form")
        await expect(form.locator("input[name=rule_id]")).to_have_value("rule-1")
        await expect(form.locator("input[name=value]")).to_have_count(3)  # host, user, source address
        await expect(form.locator("input[name=value]").nth(2)).to_have_value("203.0.113.66")
        await form.locator(".condition").nth(1).get_by_role("button").click()  # drop the user condition
        await form.locator("textarea[name=reason]").fill("Máy quét lỗ hổng của SOC")
        await form.get_by_role("button", name="Tạo").click()
        await expect(page.locator("h1")).to_have_text("Ngoại lệ của luật")
        row = page.locator("tbody tr", has_text="Máy quét lỗ hổng")
        await expect(row).to_contain_text("source.ip bằng 203.0.113.66")
        await expect(row).to_contain_text("Đang áp dụng")
        await page.screenshot(path=str(SHOTS / "08-exceptions.png"), full_page=True)
        stored = await client.search(index=settings.opensearch.exceptions_index, body={"query": {"match_all": {}}})
        conditions = stored["hits"]["hits"][0]["_source"]["conditions"]
        assert [c["field"] for c in conditions] == ["host.name", "source.ip"]
        await row.get_by_role("button", name="Xoá").click()
        await expect(page.locator(".empty")).to_have_text("Chưa có ngoại lệ nào.")

        await page.click("nav a[href='#/rules']")
        rule = page.locator("tr[data-id='06888d57-bcd1-55d5-82b9-261400ea7dfe']")
        await rule.get_by_role("button", name="Đang bật").click()
        await expect(
            page.locator("tr[data-id='06888d57-bcd1-55d5-82b9-261400ea7dfe']").get_by_role("button", name="Đã tắt")
        ).to_be_visible()
        upload = page.locator("#rule-upload")
        text = (
            "title: Console upload\nid: 1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b\nauthor: lan\n"
            "logsource: {product: linux, service: sshd}\ndetection:\n  sel: {message|contains: x}\n  condition: {cond}\n"
        )
        await upload.locator("textarea").fill(text.replace("{cond}", "nope"))
        await upload.get_by_role("button").click()
        await expect(upload.locator(".error")).to_contain_text("invalid condition")
        await upload.locator("textarea").fill(text.replace("{cond}", "sel"))
        await upload.get_by_role("button").click()
        await expect(page.locator("tr[data-id='1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b']")).to_contain_text("Tải lên")
        await page.screenshot(path=str(SHOTS / "09-rules.png"), full_page=True)

        await page.click("nav a[href='#/sources']")
        source = page.locator("#source-form")
        await source.locator("input[name=id]").fill("motcua-web")
        await source.locator("input[name=agency]").fill("so-tttt")
        await source.locator("input[name=allowed_addresses]").fill("10.1.2.0/24")
        await source.get_by_role("button", name="Tạo").click()
        await expect(page.locator("#ingest-key")).to_contain_text("MỘT lần")
        key = (await page.locator("#ingest-key pre").text_content() or "").strip()
        assert len(key) >= 43
        await expect(page.locator("tr[data-id='motcua-web']")).to_contain_text("khai báo qua giao diện")
        await page.screenshot(path=str(SHOTS / "10-sources.png"), full_page=True)
        assert not errors, errors
