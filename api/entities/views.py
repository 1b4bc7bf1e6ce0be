from __future__ import annotations

from typing import Annotated, Any

from canhgac.api.deps import Reader, State
from canhgac.api.entities import service
from canhgac.api.entities.models import Entity, EntityKind
from fastapi import APIRouter, Path, Query

router = APIRouter(prefix="/api/v1/entities", tags=["entities"])


@router.get("/{kind}/{value}", response_model=Entity, response_model_exclude_unset=True)
async def get_entity(
    kind: EntityKind,
    value: Annotated[str, Path(min_length=1, max_length=256)],
    principal: Reader,
    state: State,
    days: Annotated[int, Query(ge=1, le=31, description="how far back events are read")] = 7,
) -> dict[str, Any]:
    """One host, user or IP address: its alerts, its events over time, first and last seen, and
    the agencies, sources and datasets it appears in (an agency viewer: its agency's only)."""
    return await service.entity(state.opensearch, state.settings, kind, value, days, principal.agency_scope)
