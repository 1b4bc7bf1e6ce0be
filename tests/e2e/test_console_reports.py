"""The reports and receipts pages in a real browser against the real API and OpenSearch: a SOC admin
picks a day's province report, sees its figures and downloads the PDF; the receipts page lists a
sealed receipt and checks it against the stored records."""

from __future__ import annotations

import io
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pypdf
import pytest

from tests.e2e.test_console_bugs import browser_page, console  # noqa: F401 (the fixture)
from tests.integration.api.conftest import AGENCY_A, iso, make_event

pytestmark = pytest.mark.e2e


@pytest.fixture
def test_settings(test_settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The shared settings with a receipt signing key (the receipts page's check needs it)."""
    key_file = tmp_path / "receipt.key"
    key_file.write_bytes(secrets.token_bytes(32))
    os.chmod(key_file, 0o600)
    return test_settings.model_copy(
        update={"receipts": test_settings.receipts.model_copy(update={"signing_key_file": str(key_file)})}
    )


async def test_report_download_and_receipt_check(console) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from canhgac.api.receipts.service import seal_day
    from canhgac.core.hashchain import load_signing_key
    from canhgac.core.store import events_index
    from playwright.async_api import expect

    base, client, settings = console
    zone = ZoneInfo(settings.timezone)
    # The seeded alerts' day (they were stored 5 minutes ago) and a record received then, sealed.
    day = (datetime.now(UTC) - timedelta(minutes=5)).astimezone(zone).date()
    received = datetime.combine(day, datetime.min.time(), tzinfo=zone) + timedelta(hours=12)
    event = make_event("rcpt-ui-1", AGENCY_A, "received", received)
    event["event"]["ingested"] = iso(received)
    await client.index(index=events_index(settings.opensearch.index_prefix, "test.auth"), body=event, op_type="create")
    await client.indices.refresh(index=f"{settings.opensearch.index_prefix}.*")
    sealed = await seal_day(client, settings, day, load_signing_key(settings.receipts.signing_key_file))
    assert [r["source_id"] for r in sealed] == [f"src-{AGENCY_A}"]

    async with browser_page(base) as page:
        await page.goto(base + "/#/reports")
        await expect(page.locator("h1")).to_have_text("Báo cáo định kỳ")
        await page.select_option("#report-period", "daily")
        await page.fill("#report-day", day.isoformat())
        await page.click("#report-form button[type=submit]")
        await expect(page.locator("#report-figures h2")).to_have_text("Tổng số cảnh báo: 2")
        await expect(page.locator("#report-figures tr[data-severity=high] td").nth(1)).to_have_text("2")
        async with page.expect_download() as waiting:
            await page.click("#report-download")
        download = await waiting.value
        content = Path(await download.path()).read_bytes()
        text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(content)).pages)
        assert f"Báo cáo ngày: Ngày {day:%d/%m/%Y}" in text and "Toàn tỉnh" in text
        assert "Tổng số cảnh báo: 2" in text

        await page.click("#nav a[href='#/receipts']")
        await expect(page.locator("h1")).to_have_text("Biên nhận log hằng ngày")
        row = page.locator(f"#receipt-table tr[data-id='src-{AGENCY_A}:{day.isoformat()}']")
        await expect(row.locator("td").nth(3)).to_have_text("1")
        await row.locator("button.check").click()
        await expect(row.locator("td.verdict")).to_contain_text("Khớp")
