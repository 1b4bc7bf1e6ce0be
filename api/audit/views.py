from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from canhgac.api.audit import service
from canhgac.api.audit.models import AuditPage
from canhgac.api.deps import Admin, State
from fastapi import APIRouter, Query

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", response_model=AuditPage, response_model_exclude_unset=True)
async def list_audit(
    principal: Admin,
    state: State,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    target_id: Annotated[str | None, Query(max_length=256)] = None,
    start: datetime | None = None,
    end: datetime | None = None,
    size: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    """The audit log, newest first (admins only)."""
    return await service.list_audit(
        state.opensearch,
        state.settings.opensearch.audit_index,
        actor=actor,
        action=action,
        target_id=target_id,
        start=start,
        end=end,
        size=size,
        cursor=cursor,
    )
