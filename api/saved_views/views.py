from __future__ import annotations

from typing import Annotated, Any

from canhgac.api.audit.service import audit
from canhgac.api.deps import Reader, State
from canhgac.api.saved_views import service
from canhgac.api.saved_views.models import SavedView, SavedViewCreate, SavedViewList
from fastapi import APIRouter, Path, Request, Response

router = APIRouter(prefix="/api/v1/saved-views", tags=["saved views"])
ViewId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("", response_model=SavedViewList)
async def list_saved_views(principal: Reader, state: State) -> dict[str, Any]:
    """The caller's own saved queue views and those their team shares, by name."""
    return {"items": await service.list_views(state.opensearch, state.settings.opensearch, principal)}


@router.post("", response_model=SavedView, status_code=201)
async def create_saved_view(body: SavedViewCreate, principal: Reader, request: Request, state: State) -> dict[str, Any]:
    """Save the queue's filters, sort and grouping under a name, private or `shared` with the caller's team."""
    doc = await service.create_view(state.opensearch, state.settings.opensearch, principal, body)
    await audit(
        request,
        actor=principal,
        action="saved_view.create",
        target_type="saved_view",
        target_id=doc["id"],
        details={"name": doc["name"], "filters": doc["filters"], "shared": doc["shared"], "team": doc["team"]},
    )
    return doc


@router.delete("/{view_id}", status_code=204)
async def delete_saved_view(view_id: ViewId, principal: Reader, request: Request, state: State) -> Response:
    doc = await service.delete_view(state.opensearch, state.settings.opensearch, principal, view_id)
    await audit(
        request,
        actor=principal,
        action="saved_view.delete",
        target_type="saved_view",
        target_id=view_id,
        details={"name": doc.get("name"), "owner": doc.get("owner"), "shared": doc.get("shared")},
    )
    return Response(status_code=204)
