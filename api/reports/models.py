"""The figures of a periodic report (api/reports/figures.py computes them; the PDF shows them)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ReportPeriod(BaseModel):
    kind: str = Field(description="daily, weekly (Monday-Sunday) or monthly")
    first_day: str
    last_day: str = Field(description="inclusive")
    start: str = Field(description="local midnight of first_day")
    end: str = Field(description="local midnight after last_day (exclusive)")
    timezone: str


class SystemCount(BaseModel):
    id: str
    name: str
    security_level: int | None
    count: int


class RuleCount(BaseModel):
    id: str
    title: str
    severity: str | None
    count: int


class TimeBucket(BaseModel):
    start: str | int = Field(description="the bucket's start (local time)")
    count: int


class Silence(BaseModel):
    source_id: str
    host: str | None = Field(description="a host silent inside the source (canhgac-host-silent), else null")
    agency: str | None
    since: str | None
    cleared_at: str | None


class CoverageGap(BaseModel):
    system: str
    category: str
    agency: str | None
    since: str | None
    cleared_at: str | None


class ReportFigures(BaseModel):
    period: ReportPeriod
    agency: str | None = Field(description="null: the province")
    alerts_total: int = Field(description="alerts whose last_seen falls in the period (the queue's time filter)")
    by_severity: dict[str, int]
    by_status: dict[str, int]
    by_system: list[SystemCount]
    without_system: int
    top_rules: list[RuleCount]
    over_time: list[TimeBucket]
    timed_alerts: int = Field(description="alerts timed for acknowledge/close (at most reports.max_alerts_timed)")
    acknowledged: int
    closed: int
    ack_median_secs: float | None
    ack_p90_secs: float | None
    close_median_secs: float | None
    close_p90_secs: float | None
    silent_total: int
    silent: list[Silence]
    coverage_gaps_total: int
    coverage_gaps: list[CoverageGap]
