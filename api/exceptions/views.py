from __future__ import annotations

import asyncio
from typing import Annotated, Any

from canhgac.api.audit.service import audit
from canhgac.api.auth.models import Permission
from canhgac.api.deps import Authenticated, ExceptionRequester, State, Tuner, TuningReader
from canhgac.api.exceptions import service
from canhgac.api.exceptions.models import (
    Decision,
    ExceptionCreate,
    ExceptionList,
    ExceptionState,
    ExceptionUpdate,
    RuleExceptionOut,
)
from canhgac.api.rules.service import load_library, rule_docs
from canhgac.core.errors import InvalidRequest, PermissionDenied
from canhgac.core.index import Index
from fastapi import APIRouter, Path, Query, Request, Response

router = APIRouter(prefix="/api/v1/exceptions", tags=["exceptions"])
ExceptionId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("", response_model=ExceptionList)
async def list_exceptions(
    principal: TuningReader,
    state: State,
    rule_id: Annotated[str | None, Query(max_length=256)] = None,
    state_: Annotated[ExceptionState | None, Query(alias="state")] = None,
) -> dict[str, Any]:
    """Every exception (expired ones too, with `active: false`), newest first; `?state=requested`
    for the agencies' requests waiting for a decision."""
    index = state.settings.opensearch.exceptions_index
    return {"items": await service.list_exceptions(state.opensearch, index, rule_id, state=state_)}


@router.get("/requests", response_model=ExceptionList)
async def list_requests(
    principal: Authenticated,
    state: State,
    state_: Annotated[ExceptionState | None, Query(alias="state")] = None,
) -> dict[str, Any]:
    """Exceptions agencies asked for: an agency analyst sees its own agency's (every state), SOC
    staff everyone's."""
    if principal.agency_scope is None and principal.can(Permission.READ_TUNING):
        agency = None
    elif principal.agency_scope is not None and principal.can(Permission.REQUEST_EXCEPTION):
        agency = principal.agency_scope
    else:
        raise PermissionDenied(f"role {principal.role} may not do this ({Permission.REQUEST_EXCEPTION.value})")
    index = state.settings.opensearch.exceptions_index
    items = await service.list_exceptions(state.opensearch, index, None, state=state_, agency=agency)
    return {"items": [i for i in items if i.get("requested_by")]}


@router.post("/requests", response_model=RuleExceptionOut, status_code=201)
async def request_exception(
    body: ExceptionCreate, principal: ExceptionRequester, request: Request, state: State
) -> dict[str, Any]:
    """An agency analyst asks for an exception on its own agency's events (the agency is added as a
    condition); it applies once a SOC analyst approves it (`/{id}/approve`)."""
    if principal.agency_scope is None:
        raise InvalidRequest("SOC staff create exceptions directly (POST /api/v1/exceptions)")
    await _check_rule(state, body.rule_id)
    index = state.settings.opensearch.exceptions_index
    doc = await service.request_exception(state.opensearch, index, body, principal.username, principal.agency_scope)
    await audit(
        request,
        actor=principal,
        action="exception.request",
        target_type="exception",
        target_id=doc["id"],
        details={"rule_id": body.rule_id, "conditions": doc["conditions"], "reason": body.reason},
    )
    return doc


async def _decide(
    exception_id: str, body: Decision, principal: Tuner, request: Request, state: State, *, approve: bool
) -> dict[str, Any]:
    index = state.settings.opensearch.exceptions_index
    doc = await service.decide(
        state.opensearch, index, exception_id, approve=approve, by=principal.username, comment=body.comment
    )
    await audit(
        request,
        actor=principal,
        action="exception.approve" if approve else "exception.reject",
        target_type="exception",
        target_id=exception_id,
        details={
            "rule_id": doc["rule_id"],
            "agency": doc.get("agency"),
            "requested_by": doc.get("requested_by"),
            "conditions": doc["conditions"],
            "comment": body.comment,
        },
    )
    return doc


@router.post("/{exception_id}/approve", response_model=RuleExceptionOut)
async def approve_request(
    exception_id: ExceptionId, body: Decision, principal: Tuner, request: Request, state: State
) -> dict[str, Any]:
    """requested → approved: the detector applies it within `rules.reload_interval_secs`."""
    return await _decide(exception_id, body, principal, request, state, approve=True)


@router.post("/{exception_id}/reject", response_model=RuleExceptionOut)
async def reject_request(
    exception_id: ExceptionId, body: Decision, principal: Tuner, request: Request, state: State
) -> dict[str, Any]:
    """requested → rejected: kept (and listed to the agency) but never applied."""
    return await _decide(exception_id, body, principal, request, state, approve=False)


async def _check_rule(state: State, rule_id: str) -> None:
    """An exception names a rule the detector has (file, bundled or uploaded), or one that raised
    alerts (a rule since removed from this API's rule folders still has its alerts to silence)."""
    cfg = state.settings.opensearch
    docs = await rule_docs(state.opensearch, cfg.rules_index)
    library = await asyncio.to_thread(load_library, state.settings, docs)
    if any(item.get("id") == rule_id for item in library["items"]):
        return
    if await Index(state.opensearch, cfg.alerts_index).count({"term": {"rule.id": rule_id}}):
        return
    raise InvalidRequest(f"no such rule: {rule_id} (the detector does not load it and it raised no alerts)")


@router.post("", response_model=RuleExceptionOut, status_code=201)
async def create_exception(body: ExceptionCreate, principal: Tuner, request: Request, state: State) -> dict[str, Any]:
    """The detector stops alerting this rule on events that meet every condition, within
    `rules.reload_interval_secs`; each suppressed match is counted, never dropped silently."""
    cfg = state.settings.opensearch
    await _check_rule(state, body.rule_id)
    doc = await service.create_exception(state.opensearch, cfg.exceptions_index, body, principal.username)
    await audit(
        request,
        actor=principal,
        action="exception.create",
        target_type="exception",
        target_id=doc["id"],
        details={
            "rule_id": body.rule_id,
            "conditions": doc["conditions"],
            "reason": body.reason,
            "expires_at": doc["expires_at"],
        },
    )
    return doc


@router.patch("/{exception_id}", response_model=RuleExceptionOut)
async def update_exception(
    exception_id: ExceptionId, body: ExceptionUpdate, principal: Tuner, request: Request, state: State
) -> dict[str, Any]:
    cfg = state.settings.opensearch
    doc, changed = await service.update_exception(
        state.opensearch, cfg.exceptions_index, exception_id, body, principal.username
    )
    await audit(
        request,
        actor=principal,
        action="exception.update",
        target_type="exception",
        target_id=exception_id,
        details={
            "changed": changed,
            "rule_id": doc["rule_id"],
            "conditions": doc["conditions"],
            "reason": doc["reason"],
            "expires_at": doc["expires_at"],
        },
    )
    return doc


@router.delete("/{exception_id}", status_code=204)
async def delete_exception(exception_id: ExceptionId, principal: Tuner, request: Request, state: State) -> Response:
    cfg = state.settings.opensearch
    doc = await service.delete_exception(state.opensearch, cfg.exceptions_index, exception_id)
    await audit(
        request,
        actor=principal,
        action="exception.delete",
        target_type="exception",
        target_id=exception_id,
        details={"rule_id": doc.get("rule_id"), "conditions": doc.get("conditions"), "reason": doc.get("reason")},
    )
    return Response(status_code=204)
