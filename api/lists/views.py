"""Routes of the watch and allow lists: SOC staff read them, analysts (tune) edit them; every
change is audited. An edit applies to the rules and exceptions naming the list within the
detector's reload interval (`rules.reload_interval_secs`), without a restart."""

from __future__ import annotations

from typing import Annotated, Any

from canhgac.api.audit.service import audit
from canhgac.api.deps import State, Tuner, TuningReader
from canhgac.api.lists import service
from canhgac.api.lists.models import ListEdit, ListList, ListOut, ListPut
from fastapi import APIRouter, Path, Request, Response

router = APIRouter(prefix="/api/v1/lists", tags=["lists"])
ListName = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]


@router.get("", response_model=ListList)
async def list_lists(principal: TuningReader, state: State) -> dict[str, Any]:
    return {"items": await service.list_lists(state.opensearch, state.settings.opensearch)}


@router.get("/{list_name}", response_model=ListOut)
async def get_list(list_name: ListName, principal: TuningReader, state: State) -> dict[str, Any]:
    return await service.get_list(state.opensearch, state.settings.opensearch, list_name)


@router.put("/{list_name}", response_model=ListOut)
async def put_list(
    list_name: ListName, body: ListPut, principal: Tuner, request: Request, state: State
) -> dict[str, Any]:
    """Create the list or replace it whole (its type may change only by replacing it)."""
    found = await service.put_list(
        state.opensearch,
        state.settings.opensearch,
        list_name,
        body.type,
        body.description,
        body.values,
        principal.username,
    )
    await _audit(request, principal, "list.put", list_name, {"type": body.type, "count": found["count"]})
    return found


@router.post("/{list_name}/values", response_model=ListOut)
async def edit_list(
    list_name: ListName, body: ListEdit, principal: Tuner, request: Request, state: State
) -> dict[str, Any]:
    """Add and remove values."""
    found = await service.edit_list(
        state.opensearch, state.settings.opensearch, list_name, body.add, body.remove, principal.username
    )
    await _audit(request, principal, "list.edit", list_name, {"add": body.add[:100], "remove": body.remove[:100]})
    return found


@router.delete("/{list_name}", status_code=204)
async def delete_list(list_name: ListName, principal: Tuner, request: Request, state: State) -> Response:
    await service.delete_list(state.opensearch, state.settings.opensearch, list_name)
    await _audit(request, principal, "list.delete", list_name, {})
    return Response(status_code=204)


async def _audit(request: Request, principal: Any, action: str, name: str, details: dict[str, Any]) -> None:
    await audit(request, actor=principal, action=action, target_type="list", target_id=name, details=details)
