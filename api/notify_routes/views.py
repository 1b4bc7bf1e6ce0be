"""Agencies own their notification routes: an agency analyst lists and edits its agency's only
(another agency's answers 404), an admin any agency's. Stored on the notify-routes Kafka topic,
which every notifier replica follows live (core/agency_routes.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from canhgac.api.audit.service import audit
from canhgac.api.auth.models import Principal
from canhgac.api.deps import RouteManager, State
from canhgac.api.notify_routes.models import AgencyRouteList, AgencyRouteOut, RouteBody
from canhgac.core.agency_routes import read_routes, write_route
from canhgac.core.errors import InvalidRequest, NotFound
from canhgac.core.notify_config import AgencyRoute
from fastapi import APIRouter, Path, Query, Request, Response

router = APIRouter(prefix="/api/v1/notify/routes", tags=["notify"])
Name = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


def _check_agency(principal: Principal, agency: str) -> None:
    if principal.agency_scope is not None and agency != principal.agency_scope:
        raise NotFound(f"no routes of agency {agency}")  # another agency's do not exist for you


def _allowed_channels(state: State, principal: Principal, agency: str) -> list[str]:
    notify = state.settings.notify
    if principal.agency_scope is None:
        return sorted(notify.channels)
    return list(notify.agency_channels.get(agency, ()))


@router.get("", response_model=AgencyRouteList)
async def list_routes(
    principal: RouteManager, state: State, agency: Annotated[str | None, Query(max_length=64)] = None
) -> dict[str, Any]:
    """The agency's own routes (an admin: every agency's, or `?agency=`)."""
    wanted = principal.agency_scope or agency
    routes = await read_routes(state.settings.kafka, component="api")
    items = [r.model_dump() for r in routes.values() if wanted is None or r.agency == wanted]
    return {"items": items, "channels": _allowed_channels(state, principal, wanted or "")}


@router.put("/{agency}/{name}", response_model=AgencyRouteOut)
async def put_route(
    agency: Name, name: Name, body: RouteBody, principal: RouteManager, request: Request, state: State
) -> dict[str, Any]:
    """Create or replace the route: the agency's alerts (from `min_severity` up) also go to
    `channels`; the SOC's own routes still apply."""
    _check_agency(principal, agency)
    allowed = _allowed_channels(state, principal, agency)
    refused = [c for c in body.channels if c not in allowed]
    if refused:
        raise InvalidRequest(f"channels not available to agency {agency}: {', '.join(refused)}")
    route = AgencyRoute(
        agency=agency,
        name=name,
        min_severity=body.min_severity,
        channels=tuple(body.channels),
        enabled=body.enabled,
        updated_by=principal.username,
        updated_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    )
    await write_route(state.settings.kafka, route.key, route, component="api")
    await audit(
        request,
        actor=principal,
        action="notify_route.put",
        target_type="notify_route",
        target_id=route.key,
        details=body.model_dump(mode="json"),
    )
    return route.model_dump()


@router.delete("/{agency}/{name}", status_code=204)
async def delete_route(agency: Name, name: Name, principal: RouteManager, request: Request, state: State) -> Response:
    _check_agency(principal, agency)
    key = f"{agency}/{name}"
    if key not in await read_routes(state.settings.kafka, component="api"):
        raise NotFound(f"no route {key}")
    await write_route(state.settings.kafka, key, None, component="api")
    await audit(request, actor=principal, action="notify_route.delete", target_type="notify_route", target_id=key)
    return Response(status_code=204)
