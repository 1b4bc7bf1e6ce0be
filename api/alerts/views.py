from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from canhgac.api.alerts import service
from canhgac.api.alerts.models import AlertPage, Severity
from canhgac.api.deps import State
from fastapi import APIRouter, Query

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


@router.get("", response_model=AlertPage)
async def list_alerts(
    state: State,
    severity: Annotated[list[Severity] | None, Query(description="repeat for several")] = None,
    rule_id: str | None = None,
    status: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    size: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Alerts, newest first (by last seen), filtered by severity, rule and time."""
    return await service.list_alerts(
        state.opensearch,
        state.settings.opensearch.alerts_index,
        severity=list(severity) if severity else None,
        rule_id=rule_id,
        status=status,
        start=start,
        end=end,
        size=size,
        cursor=cursor,
    )


@router.get("/{alert_id}")
async def get_alert(alert_id: str, state: State) -> dict[str, Any]:
    return await service.get_alert(state.opensearch, state.settings.opensearch.alerts_index, alert_id)
