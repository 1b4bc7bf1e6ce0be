"""Routes of the lookup tables: SOC staff read them, admins write them (they describe who owns
what, like the systems inventory); every change is audited. Tables apply to events the normaliser
writes within `pipeline.lookups.refresh_secs`; events already stored keep what they had."""

from __future__ import annotations

from typing import Annotated, Any

from canhgac.api.audit.service import audit
from canhgac.api.deps import Admin, State, TuningReader
from canhgac.api.lookups import service
from canhgac.api.lookups.models import TableList, TableOut, TablePut
from canhgac.core.lookups import MAX_ROWS, parse_csv
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

router = APIRouter(prefix="/api/v1/lookups", tags=["lookup tables"])
TableName = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]


@router.get("", response_model=TableList)
async def list_tables(principal: TuningReader, state: State) -> dict[str, Any]:
    return {"items": await service.list_tables(state.opensearch, state.settings.opensearch)}


@router.get("/{table_name}", response_model=TableOut)
async def get_table(table_name: TableName, principal: TuningReader, state: State) -> dict[str, Any]:
    return await service.get_table(state.opensearch, state.settings.opensearch, table_name)


@router.put("/{table_name}", response_model=TableOut)
async def put_table(
    table_name: TableName, body: TablePut, principal: Admin, request: Request, state: State
) -> dict[str, Any]:
    """Create the table or replace it whole; a row's `system` must be an inventory id."""
    found = await service.put_table(
        state.opensearch, state.settings.opensearch, table_name, body.description, body.rows, principal.username
    )
    await _audit(request, principal, "lookup.put", table_name, {"rows": found["count"]})
    return found


@router.post(
    "/{table_name}/import",
    response_model=TableOut,
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}},
    responses={400: {"description": "the file is refused: `problems` lists each bad line; nothing imported"}},
)
async def import_table(
    table_name: TableName,
    principal: Admin,
    request: Request,
    state: State,
    description: Annotated[str, Query(max_length=2000)] = "",
) -> Any:
    """Replace the table's rows with a CSV file (header `match,agency,system,owner,note`; `match`
    required): the whole file, or nothing when a line is bad."""
    try:
        text = (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError:
        return JSONResponse({"detail": "the CSV file must be UTF-8", "problems": []}, status_code=400)
    rows, problems = parse_csv(text)
    if problems or len(rows) > MAX_ROWS:
        return JSONResponse(
            {"detail": f"{len(problems)} problems; nothing imported", "problems": problems}, status_code=400
        )
    found = await service.put_table(
        state.opensearch, state.settings.opensearch, table_name, description, rows, principal.username
    )
    await _audit(request, principal, "lookup.import", table_name, {"rows": found["count"]})
    return found


@router.delete("/{table_name}", status_code=204)
async def delete_table(table_name: TableName, principal: Admin, request: Request, state: State) -> Response:
    await service.delete_table(state.opensearch, state.settings.opensearch, table_name)
    await _audit(request, principal, "lookup.delete", table_name, {})
    return Response(status_code=204)


async def _audit(request: Request, principal: Any, action: str, name: str, details: dict[str, Any]) -> None:
    await audit(request, actor=principal, action=action, target_type="lookup_table", target_id=name, details=details)
