"""Periodic reports and receipt e-mail on the real OpenSearch and a real SMTP server (aiosmtpd on
loopback): the API process's scheduled round mails last month's reports (province and per agency,
PDF attached) and an agency its sealed receipts; the monthly PDF, read back as text with pypdf,
shows the figures the alerts API gives for the same period and agency; an agency user gets its
own agency's report only."""

from __future__ import annotations

import email
import email.policy
import io
import json
import os
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from pypdf import PdfReader

from tests.conftest import eventually, free_port
from tests.integration.api.conftest import AGENCY_A, AGENCY_B, iso, make_alert, make_event

pytestmark = pytest.mark.integration

TO_A = "lanhdao@sotttt.example.vn"
TO_PROVINCE = "soc@tinh.example.vn"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        self.messages.append(email.message_from_bytes(raw, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 OK"

    def with_subject(self, text: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if text in str(m["Subject"])]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def last_month() -> Any:
    from canhgac.api.reports.figures import last_closed_period

    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    return last_closed_period("monthly", today, "Asia/Ho_Chi_Minh")


def alert(
    alert_id: str,
    agency: str,
    at: datetime,
    severity: str,
    rule: tuple[str, str],
    system: tuple[str, str, int] | None = None,
    ack_after: int | None = None,
    close_after: int | None = None,
) -> dict[str, Any]:
    doc = make_alert(alert_id, agency, [], at, severity=severity)
    doc["rule"] = {**doc["rule"], "id": rule[0], "title": rule[1], "level": severity}
    doc["system"] = {"id": system[0], "name": system[1], "security_level": system[2]} if system else None
    if ack_after is not None:
        to = "closed" if close_after == ack_after else "acknowledged"
        doc["history"].append({"at": iso(at + timedelta(seconds=ack_after)), "action": "status", "to": to})
        doc["status"] = to
    if close_after is not None and close_after != ack_after:
        doc["history"].append({"at": iso(at + timedelta(seconds=close_after)), "action": "status", "to": "closed"})
    if close_after is not None:
        doc["status"], doc["closed_at"] = "closed", iso(at + timedelta(seconds=close_after))
    return doc


PORTAL = ("cong-dvc", "Cổng dịch vụ công", 4)
MAIL = ("thu-dien-tu", "Thư điện tử công vụ", 2)
SSH = ("rule-ssh", "Dò mật khẩu SSH")
SHELL = ("rule-webshell", "Tải lên webshell")
SCAN = ("rule-scan", "Quét cổng")


async def seed_period(settings: Any) -> None:
    """Last month's alerts of two agencies, a silence and a coverage gap, and yesterday's records."""
    from canhgac.core.store import ensure_templates, events_index, make_client

    month = last_month()
    t = month.start.astimezone(UTC) + timedelta(days=2, hours=3)
    docs = [
        alert("r-a1", AGENCY_A, t, "critical", SHELL, PORTAL, ack_after=300, close_after=3600),
        alert("r-a2", AGENCY_A, t + timedelta(days=1), "high", SSH, PORTAL, ack_after=600),
        alert("r-a3", AGENCY_A, t + timedelta(days=2), "high", SSH, None, ack_after=1200, close_after=7200),
        alert("r-a4", AGENCY_A, t + timedelta(days=3), "high", SSH, MAIL),
        alert("r-a5", AGENCY_A, t + timedelta(days=4), "medium", SCAN, MAIL, ack_after=1800, close_after=1800),
        alert("r-a6", AGENCY_A, t + timedelta(days=5), "low", SCAN, None),
        alert("r-b1", AGENCY_B, t, "critical", SHELL, None, ack_after=60),
        alert("r-b2", AGENCY_B, t + timedelta(days=6), "high", SSH, None),
    ]
    silent = alert("r-silent", AGENCY_A, t + timedelta(days=7), "medium", ("canhgac-source-silent", "Source silent"))
    silent["canhgac"] = {"source_id": "syslog-motcua"}
    gap = alert("r-gap", AGENCY_A, t + timedelta(days=8), "high", ("canhgac-coverage-missing", "Log category missing"))
    gap["system"] = {"id": PORTAL[0], "name": PORTAL[1], "security_level": PORTAL[2]}
    gap["canhgac"] = {"group": {"system.id": PORTAL[0], "canhgac.log_category": "authentication"}}
    docs += [silent, gap]
    # Records received yesterday (local): the day the receipt round seals and mails.
    yesterday = datetime.now(UTC) - timedelta(days=1)
    events = [make_event(f"rcpt-a-{i}", AGENCY_A, f"record {i}", yesterday) for i in range(3)]
    events += [make_event(f"rcpt-b-{i}", AGENCY_B, f"record {i}", yesterday) for i in range(2)]
    for i, event in enumerate(events):
        event["event"]["ingested"] = iso(yesterday.replace(hour=12) + timedelta(seconds=i))
    client = make_client(settings.opensearch, component="admin")
    try:
        await ensure_templates(client, settings.opensearch)
        for doc in docs:
            await client.index(index=settings.opensearch.alerts_index, id=doc["id"], body=doc)
        stream = events_index(settings.opensearch.index_prefix, "test.auth")
        for event in events:
            await client.index(index=stream, body=event, op_type="create")
        await client.indices.refresh(index=f"{settings.opensearch.index_prefix}.*,{settings.opensearch.alerts_index}")
    finally:
        await client.close()


@pytest.fixture
async def seeded(test_settings) -> AsyncIterator[None]:  # type: ignore[no-untyped-def]
    await seed_period(test_settings)
    yield


@pytest.fixture
def api_settings(test_settings, smtp, seeded, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Mail configured before the API starts: its first round finds last month's data stored."""
    from canhgac.core.report_config import ReportsConfig

    key_file = tmp_path / "receipt.key"
    key_file.write_bytes(secrets.token_bytes(32))
    os.chmod(key_file, 0o600)
    reports = {
        "smtp": {"host": "127.0.0.1", "port": smtp[1], "security": "none", "from_addr": "canhgac@soc.example.vn"},
        "province_recipients": [TO_PROVINCE],
        "agency_recipients": {AGENCY_A: [TO_A]},
        # Sent as soon as the month closes: at the default 07:00, from 00:00 to 07:00 on the 1st
        # (17:00-24:00 UTC on a month's last day) last month was closed but not yet due.
        "schedules": [
            {"period": "monthly", "scope": "agencies", "at": "00:00"},
            {"period": "monthly", "scope": "province", "at": "00:00"},
        ],
        "email_receipts": True,
        "check_interval_secs": 1,
    }
    receipts = {"signing_key_file": str(key_file), "interval_secs": 1, "grace_secs": 0}
    return test_settings.model_copy(
        update={"reports": ReportsConfig(**reports), "receipts": test_settings.receipts.model_copy(update=receipts)}
    )


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def attachment(message: email.message.EmailMessage, suffix: str) -> bytes:
    for part in message.iter_attachments():
        if str(part.get_filename()).endswith(suffix):
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload
    raise AssertionError(f"no {suffix} attachment in {message['Subject']}")


async def test_monthly_report_mailed_and_equal_to_the_api_and_receipts_mailed(api, smtp) -> None:  # type: ignore[no-untyped-def]
    from canhgac.api.reports.render import duration_vi

    inbox, _ = smtp
    month = last_month()
    label = f"Tháng {month.first_day:%m/%Y}"

    async def mailed() -> bool:
        return len(inbox.with_subject(label)) == 2 and len(inbox.with_subject("Biên nhận")) == 1

    await eventually(mailed, timeout_secs=90)
    agency_mail = inbox.with_subject(f"đơn vị {AGENCY_A}")[0]
    assert next(iter(agency_mail["To"].addresses)).addr_spec == TO_A
    province_mail = inbox.with_subject("toàn tỉnh")[0]
    assert next(iter(province_mail["To"].addresses)).addr_spec == TO_PROVINCE
    text = pdf_text(attachment(agency_mail, ".pdf"))
    assert "BÁO CÁO GIÁM SÁT AN TOÀN THÔNG TIN MẠNG ĐỊNH KỲ" in text and f"Báo cáo tháng: {label}" in text

    # The figures of the PDF are the alerts API's for the same period and agency.
    start, end = iso(month.start), iso(month.end - timedelta(milliseconds=1))
    window = {"agency": AGENCY_A, "start": start, "end": end}
    async with api.client("admin") as admin:
        total = (await admin.get("/api/v1/alerts", params={**window, "size": 1})).json()["total"]
        assert f"Tổng số cảnh báo: {total}" in text and total == 8
        for severity, label_vi in (("critical", "Nghiêm trọng"), ("high", "Cao"), ("medium", "Trung bình")):
            count = (await admin.get("/api/v1/alerts", params={**window, "severity": severity, "size": 1})).json()
            assert re.search(rf"^{label_vi} {count['total']}$", text, re.M), (severity, count["total"], text)
        groups = (await admin.get("/api/v1/alerts/groups", params={**window, "by": "rule"})).json()["groups"]
        top = groups[0]
        assert top["label"] == SSH[1] and top["count"] == 3
        assert re.search(rf"^1 {top['label']} {top['key']} Cao {top['count']}$", text, re.M), text
        figures = (
            await admin.get(
                "/api/v1/reports/figures",
                params={"period": "monthly", "day": month.first_day.isoformat(), "agency": AGENCY_A},
            )
        ).json()
    assert figures["alerts_total"] == total
    # Acknowledged after 5, 10, 20, 30 min; closed after 30 min, 1 h, 2 h (nearest-rank median and p90).
    assert (figures["ack_median_secs"], figures["ack_p90_secs"]) == (600, 1800)
    assert (figures["close_median_secs"], figures["close_p90_secs"]) == (3600, 7200)
    ack_line = f"Thời gian đến khi xác nhận {duration_vi(600)} {duration_vi(1800)} 4"
    close_line = f"Thời gian đến khi đóng {duration_vi(3600)} {duration_vi(7200)} 3"
    assert ack_line in text and close_line in text, text
    assert "Cổng dịch vụ công (cấp 4) 3" in text  # r-a1, r-a2 and the coverage gap's alert
    assert "syslog-motcua so-tttt" in text and "Cổng dịch vụ công authentication so-tttt" in text
    province = pdf_text(attachment(province_mail, ".pdf"))
    assert "Tổng số cảnh báo: 10" in province and "Toàn tỉnh" in province

    # The receipt mail: agency A's sources of yesterday, as the receipts API shows them.
    receipt_mail = inbox.with_subject("Biên nhận")[0]
    assert next(iter(receipt_mail["To"].addresses)).addr_spec == TO_A
    mailed_receipts = json.loads(attachment(receipt_mail, ".json"))
    async with api.client("agency_viewer") as viewer:
        listed = (await viewer.get("/api/v1/receipts")).json()["items"]
        assert [(r["source_id"], r["count"]) for r in mailed_receipts] == [(f"src-{AGENCY_A}", 3)]
        assert mailed_receipts == [r for r in listed if r["day"] == mailed_receipts[0]["day"]]
        # On demand: an agency user gets its own agency's report, never another's or the province's.
        own = await viewer.get("/api/v1/reports/report.pdf", params={"period": "monthly", "day": str(month.first_day)})
        assert own.status_code == 200 and own.headers["content-type"] == "application/pdf"
        assert f"Đơn vị: {AGENCY_A}" in pdf_text(own.content)
        other = await viewer.get("/api/v1/reports/report.pdf", params={"agency": AGENCY_B})
        assert other.status_code == 403
        assert (await viewer.get("/api/v1/reports/figures", params={"agency": AGENCY_B})).status_code == 403
    assert len(inbox.messages) == 3  # rounds every second since: each mail went once
