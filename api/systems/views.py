from __future__ import annotations

from typing import Annotated, Any

from canhgac.api.audit.service import audit
from canhgac.api.deps import Admin, Reader, State
from canhgac.api.systems import service
from canhgac.api.systems.models import ImportResult, System, SystemCreate, SystemList, SystemUpdate
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

router = APIRouter(prefix="/api/v1/systems", tags=["systems"])
SystemId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")]


@router.get("", response_model=SystemList)
async def list_systems(
    principal: Reader, state: State, security_level: Annotated[int | None, Query(ge=1, le=5)] = None
) -> dict[str, Any]:
    """The information systems; an agency viewer sees its agency's only."""
    items = await service.list_systems(
        state.opensearch, state.settings.opensearch, principal.agency_scope, level=security_level
    )
    return {"items": items}


@router.get("/{system_id}", response_model=System)
async def get_system(system_id: SystemId, principal: Reader, state: State) -> dict[str, Any]:
    return await service.get_system(state.opensearch, state.settings.opensearch, system_id, principal.agency_scope)


@router.post("", response_model=System, status_code=201)
async def create_system(body: SystemCreate, principal: Admin, request: Request, state: State) -> dict[str, Any]:
    """Add a system (409 when its id exists)."""
    system = await service.create_system(state.opensearch, state.settings.opensearch, body, principal.username)
    await service.reprioritise(state.opensearch, state.settings.opensearch)
    await _audit(state, principal, request, "system.create", body.id, body.model_dump(mode="json"))
    return system


@router.patch("/{system_id}", response_model=System)
async def update_system(
    system_id: SystemId, body: SystemUpdate, principal: Admin, request: Request, state: State
) -> dict[str, Any]:
    """Change the fields given; lists (hosts, sources, contacts) are replaced whole."""
    system = await service.update_system(
        state.opensearch, state.settings.opensearch, system_id, body, principal.username
    )
    await service.reprioritise(state.opensearch, state.settings.opensearch)
    await _audit(
        state, principal, request, "system.update", system_id, body.model_dump(mode="json", exclude_unset=True)
    )
    return system


@router.delete("/{system_id}", status_code=204)
async def delete_system(system_id: SystemId, principal: Admin, request: Request, state: State) -> Response:
    await service.delete_system(state.opensearch, state.settings.opensearch, system_id)
    await service.reprioritise(state.opensearch, state.settings.opensearch)
    await _audit(state, principal, request, "system.delete", system_id, {})
    return Response(status_code=204)


@router.post(
    "/import",
    response_model=ImportResult,
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}},
    responses={400: {"description": "the file is refused: `problems` lists each bad line; nothing imported"}},
)
async def import_systems(principal: Admin, request: Request, state: State) -> Any:
    """Import systems from CSV (see docs/agencies.md): the whole file, or nothing when a row is bad."""
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        return JSONResponse({"detail": "the CSV file must be UTF-8", "problems": []}, status_code=400)
    systems, problems = service.parse_csv(text)
    if problems:
        return JSONResponse(
            {
                "detail": f"{len(problems)} problems; nothing imported",
                "problems": [p.model_dump() for p in problems],
            },
            status_code=400,
        )
    result = await service.import_systems(state.opensearch, state.settings.opensearch, systems, principal.username)
    await service.reprioritise(state.opensearch, state.settings.opensearch)
    await _audit(state, principal, request, "system.import", None, result)
    return result


async def _audit(
    state: Any, principal: Any, request: Request, action: str, target_id: str | None, details: dict[str, Any]
) -> None:
    await audit(
        request,
        actor=principal,
        action=action,
        target_type="system",
        target_id=target_id,
        details=details,
    )
