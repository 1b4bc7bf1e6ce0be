from __future__ import annotations

from typing import Annotated, Any

from canhgac.api.audit.service import audit
from canhgac.api.deps import Reader, State
from canhgac.api.saved_searches import service
from canhgac.api.saved_searches.models import SavedSearch, SavedSearchCreate, SavedSearchList
from fastapi import APIRouter, Path, Request, Response

router = APIRouter(prefix="/api/v1/saved-searches", tags=["saved searches"])
SearchId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("", response_model=SavedSearchList)
async def list_saved_searches(principal: Reader, state: State) -> dict[str, Any]:
    """The caller's own saved searches and those their team shares, by name."""
    return {"items": await service.list_saved(state.opensearch, state.settings.opensearch, principal)}


@router.post("", response_model=SavedSearch, status_code=201)
async def create_saved_search(
    body: SavedSearchCreate, principal: Reader, request: Request, state: State
) -> dict[str, Any]:
    """Save a search (query, target, range), private or `shared` with the caller's team."""
    doc = await service.create_saved(state.opensearch, state.settings, principal, body)
    await audit(
        request,
        actor=principal,
        action="saved_search.create",
        target_type="saved_search",
        target_id=doc["id"],
        details={"name": doc["name"], "query": doc["query"], "shared": doc["shared"], "team": doc["team"]},
    )
    return doc


@router.delete("/{search_id}", status_code=204)
async def delete_saved_search(search_id: SearchId, principal: Reader, request: Request, state: State) -> Response:
    doc = await service.delete_saved(state.opensearch, state.settings.opensearch, principal, search_id)
    await audit(
        request,
        actor=principal,
        action="saved_search.delete",
        target_type="saved_search",
        target_id=search_id,
        details={"name": doc.get("name"), "owner": doc.get("owner"), "shared": doc.get("shared")},
    )
    return Response(status_code=204)
