"""Settings of cases (incidents): SLA deadlines per severity and the incident report's fixed parts.

`cases.sla.<severity>` gives three deadlines, counted from the moment the case is opened:
acknowledge (the case leaves `open`), contain (it reaches `contained` or `closed`) and close.
`cases.report` holds what the Circular 20/2017/TT-BTTTT notice says about the reporting unit and
whom it goes to; the rest of the notice comes from the case.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

HOUR = 3600
DAY = 24 * HOUR


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SlaDeadlines(_Strict):
    acknowledge_secs: int = Field(gt=0)
    contain_secs: int = Field(gt=0)
    close_secs: int = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> SlaDeadlines:
        if not self.acknowledge_secs <= self.contain_secs <= self.close_secs:
            raise ValueError("deadlines must run acknowledge <= contain <= close")
        return self


class SlaConfig(_Strict):
    """One set of deadlines per severity (the case's severity picks it)."""

    critical: SlaDeadlines = SlaDeadlines(acknowledge_secs=15 * 60, contain_secs=4 * HOUR, close_secs=DAY)
    high: SlaDeadlines = SlaDeadlines(acknowledge_secs=HOUR, contain_secs=8 * HOUR, close_secs=3 * DAY)
    medium: SlaDeadlines = SlaDeadlines(acknowledge_secs=4 * HOUR, contain_secs=DAY, close_secs=7 * DAY)
    low: SlaDeadlines = SlaDeadlines(acknowledge_secs=DAY, contain_secs=3 * DAY, close_secs=14 * DAY)
    informational: SlaDeadlines = SlaDeadlines(acknowledge_secs=3 * DAY, contain_secs=7 * DAY, close_secs=30 * DAY)

    def for_severity(self, severity: str) -> SlaDeadlines:
        deadlines: SlaDeadlines = getattr(self, severity, self.medium)
        return deadlines


class ReportConfig(_Strict):
    """The fixed parts of the incident notice (thông báo sự cố, Circular 20/2017/TT-BTTTT)."""

    reporting_unit: str = Field(default="Sở Thông tin và Truyền thông", max_length=300)
    governing_body: str = Field(default="UBND tỉnh", max_length=300, description="cơ quan chủ quản")
    address: str = Field(default="", max_length=500)
    contact_name: str = Field(default="", max_length=200)
    contact_role: str = Field(default="Đầu mối ứng cứu sự cố", max_length=200)
    contact_phone: str = Field(default="", max_length=50)
    contact_email: str = Field(default="", max_length=254)
    recipients: tuple[str, ...] = (
        "Chủ quản hệ thống thông tin",
        "Cơ quan điều phối quốc gia về ứng cứu sự cố (Cục An toàn thông tin)",
        "Đơn vị chuyên trách về ứng cứu sự cố của tỉnh",
    )
    # The Circular's deadline: the notice goes out at most this many days after detection.
    deadline_days: int = Field(default=5, ge=1, le=60)
    # A DOCX (docxtpl) template an operator edited; none: the bundled one (api/cases/report_template.py,
    # the same as deploy/templates/incident-report.docx).
    template_file: str | None = None


class CasesConfig(_Strict):
    sla: SlaConfig = SlaConfig()
    report: ReportConfig = ReportConfig()
    max_alerts_per_case: int = Field(default=500, ge=1, le=10_000)
    max_timeline_entries: int = Field(default=5_000, ge=10, le=100_000)
    # Rows of a search result kept with the case when the search is attached (a snapshot, bounded).
    max_attachment_rows: int = Field(default=200, ge=1, le=1_000)
