from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from canhgac.api.deps import Reader, State
from canhgac.api.receipts import service
from canhgac.api.receipts.models import ReceiptCheck, ReceiptList
from canhgac.core.errors import InvalidRequest
from canhgac.core.hashchain import load_signing_key
from canhgac.core.receipts import verify_receipt
from fastapi import APIRouter, Path, Query

router = APIRouter(prefix="/api/v1/receipts", tags=["receipts"])
SourceId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")]


@router.get("", response_model=ReceiptList)
async def list_receipts(
    principal: Reader,
    state: State,
    source_id: Annotated[str | None, Query(max_length=64)] = None,
    size: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Sealed daily receipts, newest day first; an agency viewer sees its agency's sources' only."""
    items = await service.list_receipts(state.opensearch, state.settings, principal.agency_scope, source_id, size)
    return {"items": items}


@router.get("/{source_id}/{day}", response_model=ReceiptCheck)
async def check_receipt(source_id: SourceId, day: date, principal: Reader, state: State) -> dict[str, Any]:
    """One receipt, verified now against the records stored: signature, count, times, chain head."""
    receipt = await service.visible_receipt(state.opensearch, state.settings, principal.agency_scope, source_id, day)
    key_file = state.settings.receipts.signing_key_file
    if key_file is None:
        raise InvalidRequest("receipts.signing_key_file is not configured: receipts cannot be verified")
    problems = await verify_receipt(state.opensearch, state.settings.opensearch, receipt, load_signing_key(key_file))
    return {"receipt": receipt, "ok": not problems, "problems": problems}
