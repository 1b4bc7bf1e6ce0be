"""Cases without a server: the status workflow, SLA clocks and the report deadline at a given time,
observables read from alerts, tenancy of a set of alerts, and the bundled notice template."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import docx
import pypdf
import pytest
from canhgac.api.cases import changes, clocks, observables, report
from canhgac.api.cases.models import CaseStatus, can_move
from canhgac.api.cases.report_template import build_template
from canhgac.core.cases_config import SlaDeadlines
from canhgac.core.config import Settings
from pydantic import ValidationError

OPENED = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


def iso(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def case(**fields: object) -> dict[str, object]:
    return {
        "id": "c1",
        "severity": "high",
        "created_at": iso(OPENED),
        "detected_at": iso(OPENED - timedelta(hours=2)),
    } | fields


@pytest.mark.parametrize(
    ("current", "to", "allowed"),
    [
        ("open", "investigating", True),
        ("open", "contained", False),
        ("open", "closed", True),  # a false alarm closes at once
        ("investigating", "contained", True),
        ("contained", "closed", True),
        ("closed", "investigating", True),  # reopened
        ("closed", "open", False),
        ("investigating", "open", False),
        ("open", "nonsense", False),
    ],
)
def test_status_workflow(current: str, to: str, allowed: bool) -> None:
    assert can_move(current, to) is allowed


def test_clocks_run_from_opening_and_stop_at_their_milestone() -> None:
    settings = Settings(cases={"sla": {"high": {"acknowledge_secs": 600, "contain_secs": 3600, "close_secs": 86400}}})
    now = OPENED + timedelta(minutes=30)
    shown = clocks.with_clocks(case(acknowledged_at=iso(OPENED + timedelta(minutes=5))), settings, now)
    ack, contain, close = (shown["sla"][k] for k in ("acknowledge", "contain", "close"))
    assert ack == {
        "due_at": iso(OPENED + timedelta(minutes=10)),
        "met_at": iso(OPENED + timedelta(minutes=5)),
        "breached": False,
    }
    assert contain == {"due_at": iso(OPENED + timedelta(hours=1)), "met_at": None, "breached": False}
    assert close["breached"] is False

    # Two hours in, still not contained: that clock is breached while it runs.
    later = clocks.with_clocks(
        case(acknowledged_at=iso(OPENED + timedelta(minutes=5))), settings, OPENED + timedelta(hours=2)
    )
    assert later["sla"]["contain"]["breached"] is True and later["sla"]["contain"]["met_at"] is None
    # Acknowledged late: breached for good, whatever the time now.
    late = clocks.with_clocks(case(acknowledged_at=iso(OPENED + timedelta(minutes=11))), settings, now)
    assert late["sla"]["acknowledge"]["breached"] is True


def test_report_deadline_is_five_days_after_detection() -> None:
    settings = Settings()
    detected = OPENED - timedelta(hours=2)
    before = clocks.with_clocks(case(), settings, detected + timedelta(days=4, hours=23))
    assert before["report_deadline"] == {"due_at": iso(detected + timedelta(days=5)), "sent_at": None, "overdue": False}
    after = clocks.with_clocks(case(), settings, detected + timedelta(days=5, seconds=1))
    assert after["report_deadline"]["overdue"] is True
    sent = clocks.with_clocks(
        case(report_sent_at=iso(detected + timedelta(days=1))), settings, detected + timedelta(days=9)
    )
    assert sent["report_deadline"]["overdue"] is False


def test_sla_config_is_checked() -> None:
    with pytest.raises(ValidationError):
        SlaDeadlines(acknowledge_secs=3600, contain_secs=60, close_secs=7200)
    with pytest.raises(ValidationError):
        Settings(cases={"sla": {"urgent": {}}})  # unknown severity: a typo fails at start-up


def test_observables_from_alert_blocks_and_snapshot() -> None:
    alert = {
        "id": "a1",
        "host": {"name": "WEB01."},
        "user": {"name": "root"},
        "source": {"ip": "::ffff:203.0.113.9"},
        "event": {
            "destination": {"ip": "not-an-ip"},
            "url": {"full": "http://x.example/a?b=1", "domain": "X.example"},
            "process": {"hash": {"sha1": "A" * 40}},
            "winlog": {
                "event_data": {"IpAddress": "-", "TargetUserName": "svc", "Hashes": "MD5=" + "b" * 32 + ",IMPHASH=1"}
            },
        },
    }
    assert observables.from_alert(alert) == [
        ("ip", "203.0.113.9"),
        ("user", "root"),
        ("host", "web01"),
        ("user", "svc"),
        ("hash", "a" * 40),
        ("url", "http://x.example/a?b=1"),
        ("domain", "x.example"),
        ("hash", "b" * 32),
    ]
    merged = observables.merge([], [alert, {**alert, "id": "a2", "event": {}}])
    assert next(o for o in merged if o["value"] == "root")["alert_ids"] == ["a1", "a2"]
    assert next(o for o in merged if o["value"] == "svc")["alert_ids"] == ["a1"]


def test_tenant_of_alerts() -> None:
    assert changes.owners([{"agency": "so-a"}, {"agency": "so-a"}]) == ("so-a", ["so-a"])
    assert changes.owners([{"agency": "so-a"}, {"agency": "so-b"}]) == ("soc", ["so-a", "so-b"])
    # A SOC (cross-agency) alert makes a SOC case even when it involves one agency.
    assert changes.owners([{"agency": "soc", "agencies": ["so-a"]}]) == ("soc", ["so-a"])


def test_notice_template_renders_and_escapes() -> None:
    settings = Settings(cases={"report": {"reporting_unit": "Sở TT&TT tỉnh", "contact_name": "Nguyễn Văn A"}})
    shown = clocks.with_clocks(
        case(
            title="<b>Tấn công</b> & dò quét",
            status=CaseStatus.CONTAINED.value,
            agencies=["so-a"],
            alert_ids=["a1"],
            observables=[{"type": "ip", "value": "203.0.113.9", "alert_ids": ["a1"]}],
            timeline=[{"kind": "alerts_added", "titles": ["Rule"], "alert_ids": ["a1"]}],
        ),
        settings,
        OPENED,
    )
    context = report.report_context(shown, settings, OPENED)
    document = docx.Document(io.BytesIO(report.render_docx(context, build_template())))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "Tên sự cố: <b>Tấn công</b> & dò quét" in text  # kept as text, the XML intact
    assert "Tên đơn vị: Sở TT&TT tỉnh" in text and "Người liên hệ: Nguyễn Văn A" in text
    assert "Địa chỉ IP: 203.0.113.9" in text and "Trạng thái: Đã ngăn chặn" in text
    assert "{{" not in text and "{%" not in text
    # Detection 2026-12-01 01:00 UTC minus 2 h is 06:00 in Hanoi; the deadline five days on.
    assert "06:00 ngày 01/12/2026 (UTC+07:00)" in text and "Hạn thông báo: 06:00 ngày 06/12/2026" in text


def test_notice_lists_the_search_results_attached_to_the_case() -> None:
    """Each attached search in the notice (DOCX and PDF): its title, query, range, the total and the
    first rows kept (time in Vietnam, host, line), so the province sees the evidence."""
    settings = Settings()
    attached = {
        "kind": "search_attached",
        "title": "Đăng nhập thất bại",
        "query": 'message:"Failed password"',
        "start": "2026-12-01T00:00:00+00:00",
        "end": "2026-12-02T00:00:00+00:00",
        "total": 7,
        "rows": [
            {"@timestamp": "2026-12-01T01:02:03Z", "host": {"name": "web01"}, "message": f"Failed password #{i}"}
            for i in range(7)
        ],
    }
    shown = clocks.with_clocks(case(alert_ids=["a1"], timeline=[attached]), settings, OPENED)
    context = report.report_context(shown, settings, OPENED)
    document = docx.Document(io.BytesIO(report.render_docx(context, build_template())))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "Kết quả tìm kiếm đính kèm (1):" in text
    assert (
        'Đăng nhập thất bại: truy vấn message:"Failed password", từ 07:00 ngày 01/12/2026 (UTC+07:00) '
        "đến 07:00 ngày 02/12/2026 (UTC+07:00), 7 kết quả" in text
    )
    assert "08:02:03 01/12/2026 web01 Failed password #0" in text
    assert "Failed password #4" in text and "Failed password #5" not in text  # the first 5 rows
    assert "(và 2 dòng khác trong hồ sơ sự cố)" in text
    pdf = pypdf.PdfReader(io.BytesIO(report.render_pdf(context)))
    pdf_text = " ".join(page.extract_text() for page in pdf.pages)
    assert "Kết quả tìm kiếm đính kèm (1)" in pdf_text and "web01 Failed password #0" in pdf_text


def test_shipped_template_is_the_bundled_one() -> None:
    """deploy/templates/incident-report.docx is scripts/make_incident_template.py's output: same text."""
    shipped = Path(__file__).resolve().parents[3] / "deploy" / "templates" / "incident-report.docx"

    def paragraphs(content: bytes) -> list[str]:
        return [p.text for p in docx.Document(io.BytesIO(content)).paragraphs]

    assert paragraphs(shipped.read_bytes()) == paragraphs(build_template())


def test_a_broken_operator_template_is_a_config_error(tmp_path: Path) -> None:
    from canhgac.core.errors import ConfigError

    document = docx.Document()
    document.add_paragraph("{{ title }")  # an edit that lost a brace
    broken = io.BytesIO()
    document.save(broken)
    with pytest.raises(ConfigError, match="template"):
        report.render_docx({"title": "x"}, broken.getvalue())
    with pytest.raises(ConfigError, match="template"):
        report.render_docx({"title": "x"}, b"not a docx")
    missing = Settings(cases={"report": {"template_file": str(tmp_path / "none.docx")}})
    with pytest.raises(ConfigError, match="template_file"):
        report.template_bytes(missing)
