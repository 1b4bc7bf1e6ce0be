from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from canhgac.api.alerts import service, stream
from canhgac.api.alerts.models import (
    AlertDetail,
    AlertGroups,
    AlertPage,
    AlertSearch,
    AssigneeChange,
    BulkAction,
    BulkResult,
    GroupBy,
    NewComment,
    SortField,
    StatusChange,
)
from canhgac.api.audit.service import audit
from canhgac.api.auth.models import Permission, Principal
from canhgac.api.deps import Reader, State, Triager, authenticate
from canhgac.api.events.models import Histogram, HistogramRequest, TopRequest, TopValues
from canhgac.api.events.service import default_window, events_by_id
from canhgac.api.query_guard import check_field, histogram_interval, lucene
from canhgac.api.search import date_histogram, top_values
from canhgac.api.users.service import get_user
from canhgac.core.alert import Alert, Severity, Status
from canhgac.core.errors import BackendUnavailable, CanhgacError, InvalidRequest, PermissionDenied, Unauthenticated
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import IPvAnyAddress

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])
AlertId = Annotated[str, Path(min_length=1, max_length=256, pattern=r"^[^\s/]+$")]
# Alerts are returned as stored (`response_model_exclude_unset`): fields a document does not have
# are not added by the model.


def queue_filters(
    principal: Reader,
    severity: Annotated[list[Severity] | None, Query(description="repeat for several")] = None,
    status: Annotated[list[Status] | None, Query(description="repeat for several")] = None,
    rule_id: Annotated[str | None, Query(max_length=256)] = None,
    agency: Annotated[str | None, Query(max_length=64)] = None,
    host: Annotated[str | None, Query(max_length=256)] = None,
    user: Annotated[str | None, Query(max_length=256)] = None,
    source_ip: Annotated[IPvAnyAddress | None, Query(description="the alert's source address")] = None,
    assignee: Annotated[str | None, Query(max_length=64)] = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[dict[str, Any]]:
    """The queue's filters (the list and its groups take the same), within the caller's scope."""
    return service.list_filters(
        agency_scope=principal.agency_scope,
        severity=list(severity or []),
        rule_id=rule_id,
        status=list(status or []),
        agency=agency,
        host=host,
        user=user,
        assignee=assignee,
        start=start,
        end=end,
        source_ip=str(source_ip) if source_ip else None,
    )


QueueFilters = Annotated[list[dict[str, Any]], Depends(queue_filters)]


@router.get("", response_model=AlertPage, response_model_exclude_unset=True)
async def list_alerts(
    principal: Reader,
    state: State,
    filters: QueueFilters,
    sort: SortField = "last_seen",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    size: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    """Alerts filtered by status, severity, rule, agency, host, user, source address, assignee and
    time (last seen)."""
    return await service.list_alerts(
        state.opensearch,
        state.settings.opensearch.alerts_index,
        filters,
        sort=sort,
        order=order,
        size=size,
        cursor=cursor,
        agency_scope=principal.agency_scope,
    )


@router.get("/groups", response_model=AlertGroups)
async def alert_groups(
    principal: Reader,
    state: State,
    filters: QueueFilters,
    by: Annotated[GroupBy, Query(description="what to group the queue by")],
    size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """The queue grouped by rule, host or agency: each group's alert count (most first), under the
    same filters as the list; a group's alerts are the list filtered by its key."""
    return await service.group_alerts(state.opensearch, state.settings.opensearch.alerts_index, filters, by, size)


@router.post("/search", response_model=AlertPage, response_model_exclude_unset=True)
async def search_alerts(request: AlertSearch, principal: Reader, state: State) -> dict[str, Any]:
    """Lucene query over alerts (e.g. `severity:high AND host.name:web*`), newest first."""
    return await service.search_alerts(state.opensearch, state.settings, request, principal.agency_scope)


def _alert_query(state: State, principal: Principal, text: str, start: datetime, end: datetime) -> dict[str, Any]:
    # Counts cover the agency's own alerts only (not its part of SOC alerts).
    filters = service.own_alerts_scope(principal.agency_scope)
    filters.append({"range": {"@timestamp": {"gte": start.isoformat(), "lte": end.isoformat()}}})
    return {"bool": {"must": [lucene(text, state.settings.api.max_query_chars, "rule.title")], "filter": filters}}


@router.post("/histogram", response_model=Histogram)
async def histogram(request: HistogramRequest, principal: Reader, state: State) -> dict[str, Any]:
    """Alerts per time bucket (by alert time), optionally split by a field such as `severity`."""
    start, end = default_window(request.start, request.end)
    interval = histogram_interval(start, end, state.settings.api.max_buckets, request.interval_secs)
    return await date_histogram(
        state.opensearch,
        state.settings.opensearch.alerts_index,
        query=_alert_query(state, principal, request.query, start, end),
        time_field="@timestamp",
        start=start,
        end=end,
        interval_secs=interval,
        split_field=check_field(request.split_field) if request.split_field else None,
    )


@router.post("/top", response_model=TopValues)
async def top(request: TopRequest, principal: Reader, state: State) -> dict[str, Any]:
    """The most frequent values of a field among alerts (rule.title, host.name, agency …)."""
    if request.size > state.settings.api.max_top_values:
        raise InvalidRequest(f"size too large: at most {state.settings.api.max_top_values} values")
    start, end = default_window(request.start, request.end, hours=24 * 30)
    return await top_values(
        state.opensearch,
        state.settings.opensearch.alerts_index,
        query=_alert_query(state, principal, request.query, start, end),
        field=check_field(request.field),
        size=request.size,
    )


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "`ready`, then `alert` events whose data is an alert summary (as in the list)",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def alert_stream(
    request: Request,
    principal: Reader,
    state: State,
    last_event_id: Annotated[str | None, Header(max_length=32)] = None,
) -> StreamingResponse:
    """Server-Sent Events: `alert` events carry new or changed alerts (summary fields) as they land.

    The event id is the alert index's sequence number; EventSource resumes with Last-Event-ID."""
    index = state.settings.opensearch.alerts_index
    # Where to start is settled before the response begins, so an unreachable OpenSearch is a 503.
    resume = int(last_event_id) if last_event_id and last_event_id.isdigit() else None
    if resume is None:
        resume = await stream.latest_seq_no(state.opensearch, index)
    slots: stream.StreamSlots | None = getattr(request.app.state, "stream_slots", None)
    if slots is None:
        slots = request.app.state.stream_slots = stream.StreamSlots(state.settings.api.max_streams_per_user)
    slots.acquire(principal.username)  # 429 past the cap

    async def session_ended() -> str | None:
        """Why this caller may no longer read the stream, or None (OpenSearch down: keep going)."""
        try:
            current = await authenticate(request, state)
        except (Unauthenticated, PermissionDenied) as exc:
            return exc.message
        except BackendUnavailable:
            return None
        if not current.can(Permission.READ) or current.agency_scope != principal.agency_scope:
            return "your role or agency changed; reconnect"
        return None

    events = stream.alert_events(
        state.opensearch,
        state.settings.opensearch.alerts_index,
        principal.agency_scope,
        poll_secs=state.settings.api.stream_poll_secs,
        last_event_id=resume,
        disconnected=request.is_disconnected,
        session_ended=session_ended,
        recheck_secs=state.settings.api.stream_recheck_secs,
        max_secs=state.settings.api.stream_max_secs,
    )
    return StreamingResponse(
        stream.holding_slot(events, slots, principal.username),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.post("/bulk", response_model=BulkResult)
async def bulk(action: BulkAction, principal: Triager, request: Request, state: State) -> dict[str, Any]:
    """Apply one status change, assignment and/or comment to many alerts in one call (one read and
    one conditional bulk write per round, not a request per alert); the answer says item by item
    what happened, and each change is audited."""
    if action.assignee:
        _no_agency_assignment(principal)
        await _check_assignee(state, action.assignee)
    outcomes = await service.change_alerts(
        state.opensearch,
        state.settings.opensearch.alerts_index,
        action.ids,
        principal.agency_scope,
        service.bulk_change(principal, action),
    )
    results: list[dict[str, Any]] = []
    for alert_id, outcome in outcomes.items():
        if isinstance(outcome, CanhgacError):
            results.append({"id": alert_id, "ok": False, "error": outcome.message})
            continue
        await state.publish_alert(outcome)
        results.append(
            {"id": alert_id, "ok": True, "status": outcome.get("status"), "assignee": outcome.get("assignee")}
        )
    details = action.model_dump(exclude={"ids"}, exclude_none=True)
    for item in results:
        if item["ok"]:
            await audit(
                request,
                actor=principal,
                action="alert.bulk",
                target_type="alert",
                target_id=item["id"],
                details=details,
            )
    return {
        "updated": [r["id"] for r in results if r["ok"]],
        "failed": {r["id"]: r["error"] for r in results if not r["ok"]},
        "results": results,
    }


@router.get("/{alert_id}", response_model=AlertDetail, response_model_exclude_unset=True)
async def get_alert(alert_id: AlertId, principal: Reader, state: State) -> dict[str, Any]:
    """One alert with its rule (title, author, references …), history, comments, and the events that
    matched (fetched by id from the event data streams). An agency viewer sees a SOC alert its
    agency is involved in with its own agency's events only."""
    alert = await service.get_alert(
        state.opensearch, state.settings.opensearch.alerts_index, alert_id, principal.agency_scope
    )
    events = await events_by_id(
        state.opensearch, state.settings, list(alert.get("event_ids") or []), principal.agency_scope
    )
    own_ids = [str(e["event"]["id"]) for e in events if isinstance(e.get("event"), dict) and e["event"].get("id")]
    return service.as_seen_by(alert, principal.agency_scope, own_ids) | {"events": events}


def _no_agency_assignment(principal: Principal) -> None:
    # The queue and its assignees are the SOC's: an agency analyst acknowledges, comments, closes.
    if principal.agency_scope is not None:
        raise PermissionDenied(f"role {principal.role} may not assign alerts")


async def _check_assignee(state: State, username: str) -> None:
    user = await get_user(state.opensearch, state.settings.opensearch.users_index, username)
    if user is None or user.get("disabled"):
        raise InvalidRequest(f"no such user: {username}")
    if user.get("role") not in ("admin", "analyst"):
        raise InvalidRequest(f"{username} cannot triage alerts (role {user.get('role')})")


async def _change(
    state: State,
    principal: Principal,
    request: Request,
    alert_id: AlertId,
    change: service.Change,
    action: str,
    details: dict[str, Any],
) -> dict[str, Any]:
    alert = await service.change_alert(
        state.opensearch, state.settings.opensearch.alerts_index, alert_id, principal.agency_scope, change
    )
    await state.publish_alert(alert)
    await audit(
        request,
        actor=principal,
        action=action,
        target_type="alert",
        target_id=alert_id,
        details=details,
    )
    return service.as_seen_by(alert, principal.agency_scope)


@router.post("/{alert_id}/status", response_model=Alert, response_model_exclude_unset=True)
async def change_status(
    alert_id: AlertId, body: StatusChange, principal: Triager, request: Request, state: State
) -> dict[str, Any]:
    """Move through new → acknowledged → in_progress → closed (closing needs a resolution);
    a closed alert can be reopened to acknowledged."""
    return await _change(
        state,
        principal,
        request,
        alert_id,
        service.status_change(principal, body.status, body.resolution, body.comment),
        "alert.status",
        body.model_dump(exclude_none=True),
    )


@router.post("/{alert_id}/assignee", response_model=Alert, response_model_exclude_unset=True)
async def change_assignee(
    alert_id: AlertId, body: AssigneeChange, principal: Triager, request: Request, state: State
) -> dict[str, Any]:
    _no_agency_assignment(principal)
    if body.assignee:
        await _check_assignee(state, body.assignee)
    return await _change(
        state,
        principal,
        request,
        alert_id,
        service.assignee_change(principal, body.assignee),
        "alert.assign",
        {"assignee": body.assignee},
    )


@router.post("/{alert_id}/comments", response_model=Alert, response_model_exclude_unset=True)
async def add_comment(
    alert_id: AlertId, body: NewComment, principal: Triager, request: Request, state: State
) -> dict[str, Any]:
    return await _change(
        state,
        principal,
        request,
        alert_id,
        service.comment_added(principal, body.text),
        "alert.comment",
        {"text": body.text[:500]},
    )
