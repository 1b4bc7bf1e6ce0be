"""Cases (issue 14 items 6 and 7) on the real OpenSearch: a case built from three alerts, an event
pinned from the event indices, a comment and a task, the status workflow with its SLA clocks, the
audit trail, agency isolation, and the Circular 20/2017 notice read back from its DOCX and PDF."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import docx
import pypdf
import pytest

from tests.conftest import eventually
from tests.integration.api.conftest import AGENCY_A, AGENCY_B, make_alert, make_event

pytestmark = pytest.mark.integration

SYSTEM = {"id": "cong-dvc", "name": "Cổng Dịch vụ công tỉnh", "security_level": 4}
SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
MD5 = "098f6bcd4621d373cade4e832627b4f6"
URL = "http://malicious.example/payload.php?id=1"


async def seed_case_alerts(api: Any) -> list[str]:
    """Two more alerts of agency A beside the fixture's `alert-a`, each naming other observables,
    and one more event of A (`ev-a-3`) to pin."""
    from canhgac.core.store import events_index, make_client

    cfg = api.settings.opensearch
    client = make_client(cfg, component="admin")
    now = datetime.now(UTC) - timedelta(minutes=30)
    try:
        a2 = make_alert("alert-a2", AGENCY_A, ["ev-a-2"], now + timedelta(minutes=1), severity="medium")
        a2["event"] = {
            "event": {"id": "ev-a-2"},
            "url": {"full": URL},
            "file": {"hash": {"sha256": SHA256.upper()}},
            "source": {"ip": "198.51.100.23"},
        }
        a2["system"] = SYSTEM
        a3 = make_alert("alert-a3", AGENCY_A, ["ev-a-3"], now - timedelta(minutes=2), severity="critical", host="db01")
        a3["rule"] = {**a3["rule"], "title": "Mimikatz trên máy chủ CSDL"}
        a3["event"] = {
            "winlog": {"event_data": {"Hashes": f"SHA1=-,MD5={MD5},IMPHASH=00", "TargetUserName": "svc_backup"}},
            "host": {"name": "DB01"},
        }
        for alert in (a2, a3):
            await client.index(index=cfg.alerts_index, id=alert["id"], body=alert)
        stream = events_index(cfg.index_prefix, "test.auth")
        await client.index(
            index=stream,
            body=make_event("ev-a-3", AGENCY_A, "Accepted password for svc_backup", now, "db01"),
            op_type="create",
        )
        await client.indices.refresh(index=f"{cfg.index_prefix}.*,{cfg.alerts_index}")
    finally:
        await client.close()
    return [api.alert_a, "alert-a2", "alert-a3"]


def docx_text(content: bytes) -> str:
    document = docx.Document(io.BytesIO(content))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join([*cells, *(p.text for p in document.paragraphs)])


def pdf_text(content: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return " ".join(page.extract_text() or "" for page in reader.pages)


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_case_from_three_alerts_timeline_sla_audit_and_report(api: Any) -> None:
    alert_ids = await seed_case_alerts(api)
    sla = api.settings.cases.sla.critical
    async with api.client("analyst") as analyst, api.client("admin") as admin:
        resp = await analyst.post("/api/v1/cases", json={"alert_ids": alert_ids, "assignee": "analyst"})
        assert resp.status_code == 201, resp.text
        case = resp.json()
        case_id = case["id"]
        assert case["tenant"] == AGENCY_A and case["agencies"] == [AGENCY_A]
        assert case["alert_ids"] == alert_ids and case["status"] == "open"
        assert case["severity"] == "critical"  # the highest of the three
        assert case["title"] == "SSH brute force"  # the first alert's rule
        assert case["system"] == SYSTEM
        # Detection is the earliest first_seen (alert-a3's), not the moment the case was opened.
        assert parse(case["detected_at"]) <= parse(case["created_at"]) - timedelta(minutes=32)
        observed = {(o["type"], o["value"]) for o in case["observables"]}
        assert {
            ("ip", "203.0.113.66"),
            ("ip", "198.51.100.23"),
            ("user", "root"),
            ("user", "svc_backup"),
            ("host", "web01"),
            ("host", "db01"),
            ("hash", SHA256),  # lower-cased
            ("hash", MD5),  # from Sysmon's Hashes field
            ("url", URL),
        } <= observed
        by_value = {o["value"]: o for o in case["observables"]}
        assert by_value["203.0.113.66"]["alert_ids"] == alert_ids  # every seeded alert has that source
        assert by_value[SHA256]["alert_ids"] == ["alert-a2"]

        created = parse(case["created_at"])
        clocks = case["sla"]
        assert parse(clocks["acknowledge"]["due_at"]) == created + timedelta(seconds=sla.acknowledge_secs)
        assert parse(clocks["contain"]["due_at"]) == created + timedelta(seconds=sla.contain_secs)
        assert parse(clocks["close"]["due_at"]) == created + timedelta(seconds=sla.close_secs)
        assert all(c["met_at"] is None and c["breached"] is False for c in clocks.values())
        deadline = case["report_deadline"]
        assert parse(deadline["due_at"]) == parse(case["detected_at"]) + timedelta(days=5)
        assert deadline["overdue"] is False and deadline["sent_at"] is None

        # Pin an event found in Search (by its data stream), and refuse another agency's event.
        stream = f"{api.settings.opensearch.index_prefix}.test.auth-default"
        resp = await analyst.post(
            f"/api/v1/cases/{case_id}/events", json={"event_id": "ev-a-3", "index": stream, "note": "đăng nhập lạ"}
        )
        assert resp.status_code == 200, resp.text
        resp = await analyst.post(f"/api/v1/cases/{case_id}/events", json={"event_id": api.event_b})
        assert resp.status_code == 409, resp.text
        resp = await analyst.post(
            f"/api/v1/cases/{case_id}/events", json={"event_id": "ev-a-3", "index": api.settings.opensearch.audit_index}
        )
        assert resp.status_code == 400  # only event indices can be read through a pin

        assert (await analyst.post(f"/api/v1/cases/{case_id}/comments", json={"text": "Đã chặn IP"})).status_code == 200
        case = (await analyst.post(f"/api/v1/cases/{case_id}/tasks", json={"title": "Chặn IP 203.0.113.66"})).json()
        task_id = case["tasks"][0]["id"]
        case = (await analyst.post(f"/api/v1/cases/{case_id}/tasks/{task_id}/done")).json()
        assert case["tasks"][0]["done"] is True and case["tasks"][0]["done_by"] == "analyst"
        assert (await analyst.post(f"/api/v1/cases/{case_id}/tasks/{task_id}/done")).status_code == 409

        # The workflow: no skipping from open to contained; each step stops its clock once.
        resp = await analyst.post(f"/api/v1/cases/{case_id}/status", json={"status": "contained"})
        assert resp.status_code == 409, resp.text
        case = (await analyst.post(f"/api/v1/cases/{case_id}/status", json={"status": "investigating"})).json()
        assert case["acknowledged_at"] and case["sla"]["acknowledge"]["met_at"] == case["acknowledged_at"]
        assert case["sla"]["acknowledge"]["breached"] is False and case["sla"]["contain"]["met_at"] is None
        case = (await analyst.post(f"/api/v1/cases/{case_id}/status", json={"status": "contained"})).json()
        assert case["sla"]["contain"]["met_at"] == case["contained_at"]
        resp = await analyst.patch(
            f"/api/v1/cases/{case_id}",
            json={"impact": "Lộ tài khoản svc_backup", "measures": "Đổi mật khẩu, cô lập máy db01"},
        )
        assert resp.status_code == 200, resp.text
        case = (
            await analyst.post(f"/api/v1/cases/{case_id}/status", json={"status": "closed", "comment": "xong"})
        ).json()
        assert case["status"] == "closed" and case["sla"]["close"]["met_at"] == case["closed_at"]
        assert not any(c["breached"] for c in case["sla"].values())

        kinds = [e["kind"] for e in case["timeline"]]
        assert kinds == [
            "created",
            "alerts_added",
            "event_pinned",
            "comment",
            "task_added",
            "task_done",
            "status",
            "status",
            "updated",
            "status",
        ]
        assert all(e["by"] == "analyst" and e["at"].endswith("Z") for e in case["timeline"])
        pinned = case["timeline"][2]
        assert (
            pinned["event_id"] == "ev-a-3" and pinned["index"].startswith(".ds-") and pinned["text"] == "đăng nhập lạ"
        )
        assert [e.get("status") for e in case["timeline"] if e["kind"] == "status"] == [
            "investigating",
            "contained",
            "closed",
        ]
        assert (await analyst.get(f"/api/v1/cases/{case_id}")).json()["timeline"] == case["timeline"]

        # The notice, as DOCX and PDF, in Vietnamese, with the case's facts.
        resp = await analyst.get(f"/api/v1/cases/{case_id}/report.docx")
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"].startswith("application/vnd.openxmlformats")
        pdf = await analyst.get(f"/api/v1/cases/{case_id}/report.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
        from canhgac.core.timezones import parse_zone

        local = parse(case["detected_at"]).astimezone(parse_zone(api.settings.timezone))
        due_local = parse(case["report_deadline"]["due_at"]).astimezone(parse_zone(api.settings.timezone))
        for text in (flat(docx_text(resp.content)), flat(pdf_text(pdf.content))):
            assert "BÁO CÁO SỰ CỐ AN TOÀN THÔNG TIN MẠNG" in text
            assert "20/2017/TT-BTTTT" in text
            assert "Tên hệ thống: Cổng Dịch vụ công tỉnh" in text
            assert "Cấp độ 4" in text
            assert f"{local:%H:%M} ngày {local:%d/%m/%Y}" in text
            assert "Mức độ nghiêm trọng: Nghiêm trọng" in text
            assert "Mimikatz trên máy chủ CSDL" in text
            assert "Địa chỉ IP: 203.0.113.66" in text and f"Mã băm: {MD5}" in text
            assert "Lộ tài khoản svc_backup" in text
            assert "Đổi mật khẩu, cô lập máy db01" in text and "Chặn IP 203.0.113.66" in text
            assert "Trạng thái: Đã xử lý xong" in text
            assert f"Hạn thông báo: {due_local:%H:%M} ngày {due_local:%d/%m/%Y}" in text
            assert case_id in text

        resp = await analyst.post(f"/api/v1/cases/{case_id}/report/sent", json={"comment": "gửi qua thư điện tử"})
        assert resp.json()["report_deadline"]["sent_at"] is not None

        # Every change is in the audit log, with the analyst as actor. The log is searched, so the
        # newest record appears within a refresh interval.
        async def audit_records() -> list[dict[str, Any]]:
            resp = await admin.get("/api/v1/audit", params={"target_id": case_id, "size": 100})
            items: list[dict[str, Any]] = resp.json()["items"]
            return items if any(r["action"] == "case.report_sent" for r in items) else []

        audit = await eventually(audit_records, timeout_secs=30)
        actions = sorted(r["action"] for r in audit)
        assert actions == sorted(
            [
                "case.create",
                "case.pin_event",
                "case.comment",
                "case.task_add",
                "case.task_done",
                "case.status",
                "case.status",
                "case.update",
                "case.status",
                "case.report_export",
                "case.report_export",
                "case.report_sent",
            ]
        )
        assert {r["actor"]["username"] for r in audit} == {"analyst"}
        created_record = next(r for r in audit if r["action"] == "case.create")
        assert created_record["target"] == {"type": "case", "id": case_id}


async def test_cases_are_scoped_by_agency(api: Any) -> None:
    async with api.client("analyst") as analyst:
        own = await analyst.post("/api/v1/cases", json={"alert_ids": [api.alert_a], "title": "Sự cố của sở TTTT"})
        assert own.status_code == 201, own.text
        own_id = own.json()["id"]
        both = await analyst.post("/api/v1/cases", json={"alert_ids": [api.alert_a, api.alert_b]})
        assert both.status_code == 201, both.text
        assert both.json()["tenant"] == "soc" and both.json()["agencies"] == [AGENCY_A, AGENCY_B]
        soc_id = both.json()["id"]
        # A case keeps its tenant: another agency's alert cannot join an agency's case.
        resp = await analyst.post(f"/api/v1/cases/{own_id}/alerts", json={"alert_ids": [api.alert_b]})
        assert resp.status_code == 409, resp.text
        missing = await analyst.post("/api/v1/cases", json={"alert_ids": [api.alert_a, "no-such-alert"]})
        assert missing.status_code == 400 and "no-such-alert" in missing.text

    async with api.client("agency_viewer") as viewer_a:
        listed = (await viewer_a.get("/api/v1/cases")).json()
        assert [c["id"] for c in listed["items"]] == [own_id] and listed["total"] == 1
        assert (await viewer_a.get(f"/api/v1/cases/{own_id}")).status_code == 200
        assert (await viewer_a.get(f"/api/v1/cases/{own_id}/report.docx")).status_code == 200
        for path in (f"/api/v1/cases/{soc_id}", f"/api/v1/cases/{soc_id}/report.pdf"):
            assert (await viewer_a.get(path)).status_code == 404  # the SOC's case does not exist for A
        resp = await viewer_a.post("/api/v1/cases", json={"alert_ids": [api.alert_a]})
        assert resp.status_code == 403  # reading only
        resp = await viewer_a.post(f"/api/v1/cases/{own_id}/comments", json={"text": "x"})
        assert resp.status_code == 403

    from tests.integration.api.test_alert_tenancy import agency_viewer_client

    async with await agency_viewer_client(api, "viewer-yte", AGENCY_B) as viewer_b:
        assert (await viewer_b.get("/api/v1/cases")).json()["total"] == 0
        assert (await viewer_b.get(f"/api/v1/cases/{own_id}")).status_code == 404
        assert (await viewer_b.get(f"/api/v1/cases/{soc_id}")).status_code == 404

    async with api.client("viewer") as soc_viewer:
        assert {c["id"] for c in (await soc_viewer.get("/api/v1/cases")).json()["items"]} == {own_id, soc_id}
        holding_b = (await soc_viewer.get("/api/v1/cases", params={"alert_id": api.alert_b})).json()["items"]
        assert [c["id"] for c in holding_b] == [soc_id]
        # The list's filters (the console's cases list): status, severity, assignee, agency, together.
        async with api.client("analyst") as analyst:
            resp = await analyst.patch(f"/api/v1/cases/{own_id}", json={"severity": "low", "assignee": "hoa"})
            assert resp.status_code == 200, resp.text

        async def listed_ids(**params: str) -> list[str]:
            resp = await soc_viewer.get("/api/v1/cases", params=params)
            assert resp.status_code == 200, resp.text
            return [c["id"] for c in resp.json()["items"]]

        assert await listed_ids(agency=AGENCY_B) == [soc_id]
        assert set(await listed_ids(agency=AGENCY_A)) == {own_id, soc_id}
        assert await listed_ids(severity="low") == [own_id]
        assert await listed_ids(assignee="hoa") == [own_id]
        assert await listed_ids(assignee="hoa", agency=AGENCY_B) == []
        assert await listed_ids(status="open", severity="low", agency=AGENCY_A) == [own_id]
        assert (await soc_viewer.get("/api/v1/cases", params={"severity": "nope"})).status_code == 422
        meta = (await soc_viewer.get("/api/v1/meta")).json()
        assert meta["case_statuses"] == ["open", "investigating", "contained", "closed"]
        assert meta["case_transitions"]["open"] == ["investigating", "closed"]
        assert (await soc_viewer.post("/api/v1/cases", json={"alert_ids": [api.alert_a]})).status_code == 403


async def test_search_result_attached_to_a_case_is_a_bounded_snapshot_of_its_agencies_events(api: Any) -> None:
    async with api.client("analyst") as analyst:
        case_id = (await analyst.post("/api/v1/cases", json={"alert_ids": [api.alert_a]})).json()["id"]
        # "Failed password" matches ev-a-1 (agency A) and ev-b-1 (agency B): the case sees A's only.
        body = {"query": 'message:"Failed password"', "title": "Đăng nhập thất bại", "rows": 5, "note": "từ Tìm kiếm"}
        resp = await analyst.post(f"/api/v1/cases/{case_id}/attachments", json=body)
        assert resp.status_code == 200, resp.text
        step = resp.json()["timeline"][-1]
        assert step["kind"] == "search_attached" and step["by"] == "analyst"
        assert (
            step["title"] == "Đăng nhập thất bại" and step["query"] == body["query"] and step["text"] == "từ Tìm kiếm"
        )
        assert step["total"] == 1 and [r["event"]["id"] for r in step["rows"]] == [api.event_a]
        assert parse(step["end"]) - parse(step["start"]) == timedelta(hours=24)
        # Bounded: one row asked, one kept, the total still counts every match.
        resp = await analyst.post(f"/api/v1/cases/{case_id}/attachments", json={"query": "*", "rows": 1})
        step = resp.json()["timeline"][-1]
        assert len(step["rows"]) == 1 and step["total"] == 2  # ev-a-1 and ev-a-2
        too_many = api.settings.cases.max_attachment_rows + 1
        resp = await analyst.post(f"/api/v1/cases/{case_id}/attachments", json={"query": "*", "rows": too_many})
        assert resp.status_code in (400, 422), resp.text
        resp = await analyst.post(f"/api/v1/cases/{case_id}/attachments", json={"query": "*abc"})
        assert resp.status_code == 400  # the search page's guards apply
    async with api.client("viewer") as viewer:
        resp = await viewer.post(f"/api/v1/cases/{case_id}/attachments", json={"query": "*"})
        assert resp.status_code == 403
