"""SLA clocks and the report deadline of a case, computed when it is read, so a changed
`cases.sla` applies to open cases at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from canhgac.core.alert import iso
from canhgac.core.config import Settings


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _clock(start: datetime, secs: int, met: str | None, now: datetime) -> dict[str, Any]:
    due = start + timedelta(seconds=secs)
    stopped = _parse(met) if met else None
    return {"due_at": iso(due), "met_at": met, "breached": (stopped or now) > due}


def with_clocks(case: dict[str, Any], settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    """The case as the API shows it: SLA clocks and the report deadline computed at read time, so
    changing `cases.sla` applies to open cases at once."""
    now = now or datetime.now(UTC)
    opened = _parse(case["created_at"])
    deadlines = settings.cases.sla.for_severity(str(case.get("severity", "medium")))
    sla = {
        "acknowledge": _clock(opened, deadlines.acknowledge_secs, case.get("acknowledged_at"), now),
        "contain": _clock(opened, deadlines.contain_secs, case.get("contained_at"), now),
        "close": _clock(opened, deadlines.close_secs, case.get("closed_at"), now),
    }
    due = _parse(case.get("detected_at") or case["created_at"]) + timedelta(days=settings.cases.report.deadline_days)
    sent = case.get("report_sent_at")
    report = {"due_at": iso(due), "sent_at": sent, "overdue": (_parse(sent) if sent else now) > due}
    return {**case, "sla": sla, "report_deadline": report}
