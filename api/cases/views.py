"""Cases (incidents): SOC staff with the triage permission open and work them; readers see them,
an agency viewer only its own agency's. Every change is audited (`case.*`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from canhgac.api.audit.service import audit
from canhgac.api.auth.models import Principal
from canhgac.api.cases import changes, clocks, report, service
from canhgac.api.cases.models import (
    AlertsAdd,
    Case,
    CaseCreate,
    CaseList,
    CaseStatus,
    CaseUpdate,
    CommentAdd,
    EventPin,
    ReportSent,
    SearchAttach,
    StatusChange,
    TaskAdd,
)
from canhgac.api.deps import Reader, State, Triager
from canhgac.core.alert import Severity
from canhgac.core.errors import PermissionDenied
from fastapi import APIRouter, Depends, Path, Query, Request, Response

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])
CaseId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
TaskId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


async def visible_case(case_id: CaseId, principal: Reader, state: State) -> dict[str, Any]:
    """The case, if it exists and the caller may see it (else 404, the same for both)."""
    return await service.get_case(state.opensearch, state.settings.opensearch, case_id, principal.agency_scope)


CurrentCase = Annotated[dict[str, Any], Depends(visible_case)]
AGENCY_CASE_ACTIONS = frozenset({"case.status", "case.comment"})


async def _audit(
    state: State, request: Request, principal: Principal, action: str, case: dict[str, Any], details: dict[str, Any]
) -> None:
    await audit(
        request,
        actor=principal,
        action=action,
        target_type="case",
        target_id=case["id"],
        details={"tenant": case.get("tenant"), **details},
    )


async def _change(
    state: State, request: Request, principal: Principal, case_id: str, action: str, change: changes.Change
) -> dict[str, Any]:
    if principal.agency_scope is not None:
        # An agency analyst works its own agency's cases (another's is not found) and only moves
        # their status and comments on them; the rest of a case is the SOC's.
        await service.get_case(state.opensearch, state.settings.opensearch, case_id, principal.agency_scope)
        if action not in AGENCY_CASE_ACTIONS:
            raise PermissionDenied(f"role {principal.role} may not do this to a case ({action})")
    case, details = await service.change_case(state.opensearch, state.settings, case_id, change)
    await _audit(state, request, principal, action, case, details)
    return clocks.with_clocks(case, state.settings)


@router.get("", response_model=CaseList)
async def list_cases(
    principal: Reader,
    state: State,
    status: CaseStatus | None = None,
    alert_id: Annotated[str | None, Query(max_length=256, description="only the cases holding this alert")] = None,
    severity: Severity | None = None,
    assignee: Annotated[str | None, Query(max_length=64, description="only the cases assigned to this user")] = None,
    agency: Annotated[
        str | None, Query(max_length=64, description="only the cases holding this agency's alerts")
    ] = None,
    size: Annotated[int, Query(ge=1, le=service.MAX_LISTED)] = 100,
) -> dict[str, Any]:
    """Cases newest first, with their SLA clocks and report deadline; the filters combine."""
    total, items = await service.list_cases(
        state.opensearch,
        state.settings.opensearch,
        principal.agency_scope,
        status.value if status else None,
        size,
        alert_id=alert_id,
        severity=severity.value if severity else None,
        assignee=assignee or None,
        agency=agency or None,
    )
    now = datetime.now(UTC)
    return {"total": total, "items": [clocks.with_clocks(c, state.settings, now) for c in items]}


@router.post("", response_model=Case, status_code=201)
async def create_case(body: CaseCreate, principal: Triager, request: Request, state: State) -> dict[str, Any]:
    """A case from one or many alerts (each must exist and be visible to the caller). Alerts of one
    agency make that agency's case; alerts of several agencies (or SOC alerts) make a SOC case."""
    if principal.agency_scope is not None:
        raise PermissionDenied(f"role {principal.role} may not open cases (the SOC does)")
    case = await service.create_case(state.opensearch, state.settings, body, principal)
    await _audit(
        state,
        request,
        principal,
        "case.create",
        case,
        {
            "alert_ids": case["alert_ids"],
            "title": case["title"],
            "severity": case["severity"],
            "agencies": case["agencies"],
        },
    )
    return clocks.with_clocks(case, state.settings)


@router.get("/{case_id}", response_model=Case)
async def get_case(case: CurrentCase, state: State) -> dict[str, Any]:
    return clocks.with_clocks(case, state.settings)


@router.patch("/{case_id}", response_model=Case)
async def update_case(
    case_id: CaseId, body: CaseUpdate, principal: Triager, request: Request, state: State
) -> dict[str, Any]:
    """Title, description, severity, assignee, and the report's impact, measures and system."""
    system = None
    if body.system_id:
        current = await service.get_case(state.opensearch, state.settings.opensearch, case_id, None)
        system = await service.system_info(
            state.opensearch, state.settings.opensearch, body.system_id, current["agencies"]
        )
    return await _change(
        state, request, principal, case_id, "case.update", changes.update_change(principal, body, system)
    )


@router.post("/{case_id}/status", response_model=Case)
async def change_status(
    case_id: CaseId, body: StatusChange, principal: Triager, request: Request, state: State
) -> dict[str, Any]:
    """open → investigating → contained → closed (a case may also close early and be reopened to
    investigating); any other move is 409."""
    change = changes.status_change(principal, body.status, body.comment)
    return await _change(state, request, principal, case_id, "case.status", change)


@router.post("/{case_id}/alerts", response_model=Case)
async def add_alerts(
    case_id: CaseId, body: AlertsAdd, principal: Triager, request: Request, state: State
) -> dict[str, Any]:
    alerts = await service.load_alerts(state.opensearch, state.settings, body.alert_ids, principal.agency_scope)
    return await _change(state, request, principal, case_id, "case.alerts_add", changes.alerts_added(principal, alerts))


@router.post("/{case_id}/events", response_model=Case)
async def pin_event(
    case_id: CaseId, body: EventPin, principal: Triager, request: Request, state: State
) -> dict[str, Any]:
    """Pin an event found in Search (its `event.id` and `_index`) to the timeline; it must belong
    to one of the case's agencies."""
    found = await service.find_event(state.opensearch, state.settings, body)
    return await _change(
        state, request, principal, case_id, "case.pin_event", changes.event_pinned(principal, body, found)
    )


@router.post("/{case_id}/attachments", response_model=Case)
async def attach_search(
    case_id: CaseId, body: SearchAttach, principal: Triager, request: Request, state: State
) -> dict[str, Any]:
    """Attach a search's result to the timeline: the query, its range, its total and a snapshot of
    its newest rows (at most `cases.max_attachment_rows`), from the case's agencies' events only."""
    current = await service.get_case(state.opensearch, state.settings.opensearch, case_id, principal.agency_scope)
    snapshot = await service.search_snapshot(state.opensearch, state.settings, body, current["agencies"])
    change = changes.search_attached(principal, body, snapshot)
    return await _change(state, request, principal, case_id, "case.attach_search", change)


@router.post("/{case_id}/comments", response_model=Case)
async def add_comment(
    case_id: CaseId, body: CommentAdd, principal: Triager, request: Request, state: State
) -> dict[str, Any]:
    return await _change(
        state, request, principal, case_id, "case.comment", changes.comment_change(principal, body.text)
    )


@router.post("/{case_id}/tasks", response_model=Case)
async def add_task(
    case_id: CaseId, body: TaskAdd, principal: Triager, request: Request, state: State
) -> dict[str, Any]:
    return await _change(state, request, principal, case_id, "case.task_add", changes.task_added(principal, body.title))


@router.post("/{case_id}/tasks/{task_id}/done", response_model=Case)
async def complete_task(
    case_id: CaseId, task_id: TaskId, principal: Triager, request: Request, state: State
) -> dict[str, Any]:
    return await _change(state, request, principal, case_id, "case.task_done", changes.task_done(principal, task_id))


@router.post("/{case_id}/report/sent", response_model=Case)
async def mark_report_sent(
    case_id: CaseId, body: ReportSent, principal: Triager, request: Request, state: State
) -> dict[str, Any]:
    """Record that the notice went out (stops the report deadline)."""
    change = changes.report_sent(principal, body.comment)
    return await _change(state, request, principal, case_id, "case.report_sent", change)


async def _report(case: dict[str, Any], principal: Principal, request: Request, state: State, kind: str) -> bytes:
    now = datetime.now(UTC)
    context = report.report_context(clocks.with_clocks(case, state.settings, now), state.settings, now)
    if kind == "docx":
        template = report.template_bytes(state.settings)
        content = await asyncio.to_thread(report.render_docx, context, template)
    else:
        content = await asyncio.to_thread(report.render_pdf, context)
    # An official document left the system: who took it, when, in which form.
    await _audit(state, request, principal, "case.report_export", case, {"format": kind})
    return content


def _download(content: bytes, media_type: str, name: str) -> Response:
    return Response(content, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/{case_id}/report.docx", response_class=Response, responses={200: {"content": {DOCX: {}}}})
async def report_docx(case: CurrentCase, principal: Reader, request: Request, state: State) -> Response:
    """The Circular 20/2017/TT-BTTTT incident notice, in Vietnamese, from the configured template."""
    content = await _report(case, principal, request, state, "docx")
    return _download(content, DOCX, f"bao-cao-su-co-{case['id']}.docx")


@router.get("/{case_id}/report.pdf", response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
async def report_pdf(case: CurrentCase, principal: Reader, request: Request, state: State) -> Response:
    content = await _report(case, principal, request, state, "pdf")
    return _download(content, "application/pdf", f"bao-cao-su-co-{case['id']}.pdf")
