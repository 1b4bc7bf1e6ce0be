from __future__ import annotations

from datetime import datetime
from typing import Any

from canhgac.api.dashboard import service
from canhgac.api.dashboard.models import Dashboard
from canhgac.api.deps import Reader, State
from canhgac.api.events.service import default_window
from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/dashboard", tags=["dashboard"])


@router.get("", response_model=Dashboard)
async def dashboard(
    principal: Reader, state: State, start: datetime | None = None, end: datetime | None = None
) -> dict[str, Any]:
    """Alerts by severity over time, alerts by status, top rules, top hosts, events per source."""
    start, end = default_window(start, end)
    return await service.dashboard(state.opensearch, state.settings, start, end, principal.agency_scope)
