from __future__ import annotations

from typing import Any

from canhgac.api.deps import Reader, State
from canhgac.api.sources import service
from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/sources", tags=["sources"])


@router.get("")
async def list_sources(principal: Reader, state: State) -> dict[str, Any]:
    """Sources with their health; an agency viewer sees only its agency's."""
    return {"items": await service.list_sources(state.opensearch, state.settings, principal.agency_scope)}
