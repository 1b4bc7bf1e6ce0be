"""Cases in the console (issue 14 items 6 and 7), in a real browser against the real API on the real
secured OpenSearch: a case built from three alerts selected in the queue, a comment, a task done,
an event pinned from an alert's events, a search result attached, the status moved, and the incident
notice downloaded and read back (DOCX in Vietnamese; then, shorter, a case from an alert's page in
the English console and its PDF). One test, so the server and its data are set up once."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import docx
import httpx
import pypdf
import pytest

from tests.e2e import test_console_bugs as bugs
from tests.integration.api.conftest import PASSWORD, iso

pytestmark = pytest.mark.e2e

console = bugs.console  # the API with the console, users `lan` (admin) and `hoa` (analyst), alert-a and alert-b
TITLE = "Dò mật khẩu SSH vào web01"


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def docx_text(path: Path) -> str:
    document = docx.Document(str(path))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return flat("\n".join([*cells, *(p.text for p in document.paragraphs)]))


async def test_case_from_three_alerts_comment_task_pin_status_and_docx_in_vietnamese_and_pdf_in_english(
    console,
) -> None:  # type: ignore[no-untyped-def]
    from playwright.async_api import expect

    base, client, settings = console
    ts = datetime.now(UTC) - timedelta(minutes=10)
    await bugs.put_alert(client, settings, "alert-a2", ts, event_ids=["ev-a-2"], severity="critical")
    await bugs.put_alert(client, settings, "alert-a3", ts - timedelta(minutes=1), event_ids=["ev-a-1"])
    system = {"id": "cong-dvc", "name": "Cổng Dịch vụ công tỉnh", "agency": "so-tttt", "security_level": 4}
    systems = f"{settings.opensearch.config_index_prefix}-systems"
    await client.index(index=systems, id=system["id"], body=system, refresh="wait_for")
    async with bugs.browser_page(base, "hoa") as page:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        for alert_id in ("alert-a", "alert-a2", "alert-a3"):
            await page.locator(f"tr[data-id='{alert_id}'] input[type=checkbox]").check()
        await expect(page.locator(".pagehead")).to_contain_text("Đã chọn 3")
        await page.click("#make-case")
        dialog = page.locator("dialog[open]")
        await expect(dialog.locator("h2")).to_have_text("Tạo sự cố từ 3 cảnh báo")
        await dialog.locator("input[name=title]").fill(TITLE)
        await dialog.get_by_role("button", name="Tạo sự cố").click()

        # The case page: severity the highest of the three, clocks running, 5-day report deadline.
        await expect(page.locator("h1")).to_have_text(TITLE)
        case_id = page.url.rsplit("/", 1)[-1]
        await expect(page.locator(".pagehead .badge")).to_have_text("Mới mở")
        await expect(page.locator(".pagehead .sev")).to_have_text("Nghiêm trọng")
        await expect(page.locator(".case-alerts li")).to_have_count(3)
        await expect(page.locator("#report-deadline")).to_contain_text("còn 4 ngày")
        await expect(page.locator(".deadlines")).to_contain_text("Tiếp nhận")
        await expect(page.locator(".observables")).to_contain_text("203.0.113.66")

        await page.fill("textarea[name=comment]", "Đã chặn IP 203.0.113.66 trên tường lửa")
        await page.get_by_role("button", name="Thêm ghi chú").click()
        await expect(page.locator("li[data-kind=comment]")).to_contain_text("Đã chặn IP 203.0.113.66")

        await page.fill("input[name=task]", "Đổi mật khẩu root trên web01")
        await page.get_by_role("button", name="Thêm việc").click()
        await page.locator(".tasks li").get_by_role("button", name="Xong").click()
        await expect(page.locator(".tasks li.done")).to_contain_text("Đổi mật khẩu root trên web01")

        # Pin an event from an alert's events.
        await page.locator(".case-alerts li[data-id='alert-a'] button[data-alert]").click()
        await page.locator(".case-alerts li[data-id='alert-a'] .event-row[data-event='ev-a-1'] button.pin").click()
        await expect(page.locator("li[data-kind=event_pinned]")).to_contain_text("Failed password for root")

        # Attach a search's result: the server keeps its rows, the case's agency's only.
        await page.fill("input[name=query]", 'message:"Failed password"')
        await page.fill("input[name=att_title]", "Đăng nhập thất bại")
        await page.get_by_role("button", name="Đính kèm").click()
        attached = page.locator("li[data-kind=search_attached]")
        await expect(attached).to_contain_text("Đăng nhập thất bại")
        await expect(attached).to_contain_text("1 / 1 dòng được lưu")

        # Status: only the allowed moves are offered.
        await page.get_by_role("button", name="Bắt đầu điều tra").click()
        await expect(page.locator(".pagehead .badge")).to_have_text("Đang điều tra")
        moves = page.locator(".pagehead button[data-to]")
        await expect(moves).to_have_count(2)
        await expect(moves).to_have_text(["Đã ngăn chặn", "Đóng sự cố"])
        await expect(page.locator("li[data-kind=status]")).to_contain_text("Mới mở → Đang điều tra")
        await expect(page.locator(".deadlines")).to_contain_text("đạt lúc")  # acknowledged in time

        # The affected system, for the notice: one of the case's agency's systems.
        await page.locator("select[name=system_id]").select_option("cong-dvc")
        await page.get_by_role("button", name="Lưu").click()
        await expect(page.locator(".deadlines")).to_contain_text("Cổng Dịch vụ công tỉnh (cấp độ 4)")

        async with page.expect_download() as download_info:
            await page.click("#report-docx")
        download = await download_info.value
        assert download.suggested_filename == f"bao-cao-su-co-{case_id}.docx"
        text = docx_text(Path(await download.path()))
        assert "BÁO CÁO SỰ CỐ AN TOÀN THÔNG TIN MẠNG" in text
        assert TITLE in text and case_id in text
        assert "Địa chỉ IP: 203.0.113.66" in text
        assert "Đổi mật khẩu root trên web01" in text  # the task done is a measure taken
        assert "Mức độ nghiêm trọng: Nghiêm trọng" in text
        assert "Tên hệ thống: Cổng Dịch vụ công tỉnh" in text and "Cấp độ 4" in text

        # The list: its status, its running clock (contain), the report deadline.
        await page.click("nav a[href='#/cases']")
        row = page.locator(f"#cases-table tr[data-id='{case_id}']")
        await expect(row).to_contain_text(TITLE)
        await expect(row).to_contain_text("Đang điều tra")
        await expect(row.locator(".sla")).to_contain_text("Ngăn chặn: còn")
        await expect(row.locator(".report")).to_contain_text("còn 4 ngày")

        # Pin from Search: an event's detail offers the case to pin it to.
        await page.click("nav a[href='#/search']")
        await page.fill("input[name=q]", 'event.id:"ev-a-2"')
        await page.keyboard.press("Enter")
        results = page.locator("table.results > tbody > tr:not(.detail-row)")
        await expect(results).to_have_count(1)
        await results.locator("td.msg").click()
        await page.locator(".event-detail button.pin-event").click()
        dialog = page.locator("dialog[open]")
        await dialog.locator("select[name=case]").select_option(case_id)
        await dialog.get_by_role("button", name="Thêm vào sự cố").click()
        await expect(page.locator("dialog[open]")).to_have_count(0)
        assert not errors, errors

    stored = (await client.search(index=f"{settings.opensearch.config_index_prefix}-cases-*"))["hits"]["hits"]
    kinds = [e["kind"] for e in stored[0]["_source"]["timeline"]]
    assert kinds == [
        "created",
        "alerts_added",
        "comment",
        "task_added",
        "task_done",
        "event_pinned",
        "search_attached",
        "status",
        "updated",
        "event_pinned",  # from Search
    ]
    assert stored[0]["_source"]["timeline"][-1]["event_id"] == "ev-a-2"
    assert sorted(stored[0]["_source"]["alert_ids"]) == ["alert-a", "alert-a2", "alert-a3"]

    # In English (the same server: one setup for both languages), a case from an alert's page.
    await in_english_from_an_alert_page_with_the_pdf_notice(base, client, settings)


async def in_english_from_an_alert_page_with_the_pdf_notice(base: str, client: Any, settings: Any) -> None:
    from playwright.async_api import expect

    await bugs.put_alert(client, settings, "alert-a4", event_ids=["ev-a-2"])
    async with bugs.browser_page(base, "hoa", lang="en") as page:
        await page.goto(base + "/#/alerts/alert-a")
        await expect(page.locator("h1")).to_have_text("SSH brute force")
        await page.click("#make-case")
        dialog = page.locator("dialog[open]")
        await expect(dialog.locator("h2")).to_have_text("Create a case from 1 alert(s)")
        await dialog.get_by_role("button", name="Create case").click()
        await page.wait_for_url(re.compile(r"#/cases/[0-9a-f]+$"))  # the alert has the same title
        await expect(page.locator("h1")).to_have_text("SSH brute force")
        case_id = page.url.rsplit("/", 1)[-1]
        await expect(page.locator(".pagehead .badge")).to_have_text("Open")
        await expect(page.locator(".pagehead button[data-to]")).to_have_text(["Start investigating", "Close case"])
        await expect(page.locator("#report-deadline")).to_contain_text("4 d")
        await expect(page.locator("#report-deadline")).to_contain_text("left")
        await expect(page.locator("li[data-kind=alerts_added]")).to_contain_text("hoa added alerts (1)")
        async with page.expect_download() as download_info:
            await page.click("#report-pdf")
        download = await download_info.value
        reader = pypdf.PdfReader(io.BytesIO(Path(await download.path()).read_bytes()))
        text = flat(" ".join(p.extract_text() or "" for p in reader.pages))
        assert "BÁO CÁO SỰ CỐ AN TOÀN THÔNG TIN MẠNG" in text and "SSH brute force" in text

        # Another alert joins this case from its own page ("add to a case still open").
        await page.goto(base + "/#/alerts/alert-a4")
        await expect(page.locator("h1")).to_have_text("SSH brute force")
        await page.click("#make-case")
        await dialog.locator("select[name=case]").select_option(case_id)
        await dialog.get_by_role("button", name="Add to case").click()
        await expect(page.locator(".case-alerts li")).to_have_count(2)
        await page.goto(base + "/#/alerts/alert-a4")  # the alert's page names its case
        await expect(page.locator(".alert-cases a")).to_have_text("SSH brute force")
        await expect(page.locator(".alert-cases .badge")).to_have_text("Open")

        # Past its deadlines (opened two days ago, detected six), the clocks say by how much.
        index = f"{settings.opensearch.config_index_prefix}-cases-so-tttt"
        now = datetime.now(UTC)
        past = {"created_at": iso(now - timedelta(days=2)), "detected_at": iso(now - timedelta(days=6, minutes=1))}
        await client.update(index=index, id=case_id, body={"doc": past}, refresh="wait_for")
        await page.goto(f"{base}/#/cases/{case_id}")
        await expect(page.locator("#report-deadline .clock.bad")).to_have_text("1 d 0 h overdue")
        # high severity: acknowledge (1 h) and contain (8 h) are past, close (3 days) is not
        await expect(page.locator(".deadlines .clock.bad")).to_have_count(3)
        await page.click("nav a[href='#/cases']")
        await expect(page.locator("h1")).to_have_text("Cases")
        await page.get_by_role("tab", name="Open").click()
        row = page.locator("#cases-table tbody tr")
        await expect(row).to_have_count(1)
        await expect(row).to_contain_text("SSH brute force")
        await expect(row.locator(".sla")).to_contain_text("Acknowledge: 1 d 23 h overdue")
        await expect(row.locator(".report .clock.bad")).to_have_text("1 d 0 h overdue")

        # A saved search attached from the case page: its query and range, under its name.
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            me = (await http.post("/api/v1/auth/login", json={"username": "hoa", "password": PASSWORD})).json()
            http.headers["X-CSRF-Token"] = me["csrf_token"]
            search = {"name": "Failed SSH logins", "query": 'message:"Failed password"', "range": "24h"}
            assert (await http.post("/api/v1/saved-searches", json=search)).status_code == 201
        await page.goto(f"{base}/#/cases/{case_id}")
        await page.locator("select[name=saved_search]").select_option(label="Failed SSH logins")
        await page.get_by_role("button", name="Attach").click()
        attached = page.locator("li[data-kind=search_attached]")
        await expect(attached).to_contain_text("attached a search result: Failed SSH logins")
        await expect(attached).to_contain_text("1 of 1 rows kept")

        # Closing asks for a conclusion, kept on the timeline.
        await page.get_by_role("button", name="Close case").click()
        await dialog.locator("textarea[name=conclusion]").fill("False alarm: the agency's scheduled scan")
        await dialog.get_by_role("button", name="Close case").click()
        await expect(page.locator(".pagehead .badge")).to_have_text("Closed")
        await expect(page.locator("li[data-kind=status]").first).to_contain_text(
            "False alarm: the agency's scheduled scan"
        )
        await expect(page.locator(".pagehead button[data-to]")).to_have_text(["Reopen"])
