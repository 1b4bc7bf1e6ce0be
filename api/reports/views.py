from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from canhgac.api.audit.service import audit
from canhgac.api.auth.models import Principal
from canhgac.api.deps import Reader, State
from canhgac.api.reports.figures import PeriodKind, period_of, report_figures
from canhgac.api.reports.models import ReportFigures
from canhgac.api.reports.service import build_report, default_day, file_name
from canhgac.core.errors import PermissionDenied
from fastapi import APIRouter, Query, Request, Response

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

Kind = Annotated[PeriodKind, Query(description="daily, weekly (Monday-Sunday) or monthly")]
Day = Annotated[
    date | None, Query(description="a day inside the period (local); default yesterday, the newest closed day")
]
Agency = Annotated[
    str | None,
    Query(
        max_length=64,
        pattern=r"^[a-z0-9][a-z0-9._-]*$",
        description="one agency's report; none: the province's (SOC users only). An agency user gets its own.",
    ),
]


def _agency(principal: Principal, agency: str | None) -> str | None:
    """An agency user's report is its agency's, whatever it asks; asking for another's is refused."""
    scope = principal.agency_scope
    if scope is None:
        return agency
    if agency not in (None, scope):
        raise PermissionDenied("an agency user gets its own agency's report only")
    return scope


@router.get("/figures", response_model=ReportFigures)
async def figures(
    principal: Reader, state: State, period: Kind = "monthly", day: Day = None, agency: Agency = None
) -> dict[str, Any]:
    """The figures a report shows (the PDF is drawn from exactly these): alerts by severity, status,
    system, top rules, over time; time to acknowledge and to close; sources silent; coverage gaps."""
    when = period_of(period, day or default_day(state.settings, datetime.now(UTC)), state.settings.timezone)
    return await report_figures(state.opensearch, state.settings, when, _agency(principal, agency))


@router.get("/report.pdf", response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
async def report_pdf(
    principal: Reader,
    request: Request,
    state: State,
    period: Kind = "monthly",
    day: Day = None,
    agency: Agency = None,
) -> Response:
    """The report as a PDF in Vietnamese, with charts."""
    scope = _agency(principal, agency)
    when = period_of(period, day or default_day(state.settings, datetime.now(UTC)), state.settings.timezone)
    _, content = await build_report(state.opensearch, state.settings, when, scope)
    await audit(
        request,
        actor=principal,
        action="report.export",
        target_type="report",
        target_id=when.key,
        details={"agency": scope, "period": period},
    )
    name = file_name(when, scope)
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
