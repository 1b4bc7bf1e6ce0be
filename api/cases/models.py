"""Cases (sự cố, incidents) as the API takes and returns them, and the case workflow's vocabulary."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Final, Literal

from canhgac.core.alert import Severity
from pydantic import BaseModel, ConfigDict, Field

EVENT_ID_PATTERN = r"^[^\s/\\]+$"
AlertId = Annotated[str, Field(min_length=1, max_length=256, pattern=EVENT_ID_PATTERN)]
MAX_ALERTS_PER_REQUEST = 500


class CaseStatus(StrEnum):
    OPEN = "open"  # mới mở
    INVESTIGATING = "investigating"  # đang điều tra
    CONTAINED = "contained"  # đã ngăn chặn
    CLOSED = "closed"  # đã đóng


# Forward through the workflow; a case may be closed early (a false alarm) and reopened to
# investigating. `open` is never re-entered: the acknowledge clock stops once.
CASE_TRANSITIONS: Final = MappingProxyType(
    {
        CaseStatus.OPEN: frozenset({CaseStatus.INVESTIGATING, CaseStatus.CLOSED}),
        CaseStatus.INVESTIGATING: frozenset({CaseStatus.CONTAINED, CaseStatus.CLOSED}),
        CaseStatus.CONTAINED: frozenset({CaseStatus.CLOSED, CaseStatus.INVESTIGATING}),
        CaseStatus.CLOSED: frozenset({CaseStatus.INVESTIGATING}),
    }
)


def can_move(current: str, to: str) -> bool:
    try:
        return CaseStatus(to) in CASE_TRANSITIONS[CaseStatus(current)]
    except (ValueError, KeyError):
        return False


ObservableType = Literal["ip", "user", "host", "hash", "url", "domain"]
TimelineKind = Literal[
    "created",
    "alerts_added",
    "event_pinned",
    "comment",
    "status",
    "assignee",
    "task_added",
    "task_done",
    "updated",
    "report_sent",
    "search_attached",
]


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alert_ids: list[AlertId] = Field(min_length=1, max_length=MAX_ALERTS_PER_REQUEST)
    title: str | None = Field(default=None, min_length=1, max_length=300, description="default: the first alert's rule")
    description: str | None = Field(default=None, max_length=10_000)
    severity: Severity | None = Field(default=None, description="default: the highest of the alerts")
    assignee: str | None = Field(default=None, min_length=1, max_length=64)


class CaseUpdate(BaseModel):
    """Fields left out stay as they are. The report fields fill the Circular 20/2017 notice."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=10_000)
    severity: Severity | None = None
    assignee: str | None = Field(default=None, max_length=64, description="empty string: unassigned")
    impact: str | None = Field(default=None, max_length=10_000, description="ảnh hưởng, thiệt hại")
    measures: str | None = Field(default=None, max_length=10_000, description="biện pháp đã áp dụng")
    system_id: str | None = Field(default=None, max_length=64, description="hệ thống thông tin bị ảnh hưởng")


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: CaseStatus
    comment: str | None = Field(default=None, max_length=10_000)


class AlertsAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alert_ids: list[AlertId] = Field(min_length=1, max_length=MAX_ALERTS_PER_REQUEST)


class EventPin(BaseModel):
    """An event found in Search: its `event.id` and, when known, the index it is in (its data
    stream `logs-canhgac.<dataset>-default` or a backing index); without it every event index is
    searched (event ids are unique)."""

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(min_length=1, max_length=256, pattern=EVENT_ID_PATTERN)
    index: str | None = Field(default=None, min_length=1, max_length=255, pattern=r"^[a-z0-9.][a-z0-9._-]*$")
    note: str | None = Field(default=None, max_length=2000)


class SearchAttach(BaseModel):
    """A search over the stored events attached to the case: the query and range as asked, and a
    snapshot of its newest rows (at most `rows`, bounded by `cases.max_attachment_rows`) taken by
    the server when attached, from the case's agencies' events only."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(default="*", max_length=4096, description="Lucene query string syntax, as in Search")
    start: datetime | None = Field(default=None, description="default: 24 hours before `end`")
    end: datetime | None = Field(default=None, description="default: now")
    title: str | None = Field(default=None, max_length=300, description="what the analyst calls it")
    saved_search_id: str | None = Field(
        default=None, max_length=128, pattern=r"^[A-Za-z0-9_-]+$", description="the saved search it came from"
    )
    rows: int = Field(default=50, ge=1, le=1000, description="rows kept in the snapshot")
    note: str | None = Field(default=None, max_length=2000)


class CommentAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=10_000)


class TaskAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=500)


class ReportSent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(default=None, max_length=2000, description="how and to whom it went")


class Observable(BaseModel):
    type: ObservableType
    value: str
    alert_ids: list[str] = Field(description="alerts it was found in")


class Task(BaseModel):
    id: str
    title: str
    done: bool
    created_at: str
    created_by: str
    done_at: str | None = None
    done_by: str | None = None


class TimelineEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    at: str = Field(description="UTC")
    by: str
    kind: TimelineKind
    text: str | None = None


class SlaClock(BaseModel):
    due_at: str = Field(description="UTC")
    met_at: str | None = Field(default=None, description="when the clock stopped, UTC")
    breached: bool = Field(description="met after the due time, or still running past it")


class Sla(BaseModel):
    acknowledge: SlaClock
    contain: SlaClock
    close: SlaClock


class ReportDeadline(BaseModel):
    due_at: str = Field(description="detection + cases.report.deadline_days (Circular 20/2017: 5 days), UTC")
    sent_at: str | None = None
    overdue: bool


class SystemInfo(BaseModel):
    id: str | None = None
    name: str | None = None
    security_level: int | None = None


class CaseSummary(BaseModel):
    id: str
    title: str
    severity: Severity
    status: CaseStatus
    assignee: str | None = None
    agencies: list[str]
    tenant: str = Field(description="the agency that owns the case, or 'soc' for cases over several agencies")
    alert_ids: list[str]
    detected_at: str = Field(description="the first alert's first_seen, UTC")
    created_at: str
    created_by: str
    updated_at: str
    sla: Sla
    report_deadline: ReportDeadline


class Case(CaseSummary):
    description: str | None = None
    impact: str | None = None
    measures: str | None = None
    system: SystemInfo | None = None
    observables: list[Observable]
    tasks: list[Task]
    timeline: list[TimelineEntry]
    acknowledged_at: str | None = None
    contained_at: str | None = None
    closed_at: str | None = None


class CaseList(BaseModel):
    total: int
    items: list[CaseSummary]
