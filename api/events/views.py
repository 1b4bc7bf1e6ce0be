from __future__ import annotations

from typing import Any

from canhgac.api.deps import State
from canhgac.api.events import service
from canhgac.api.events.models import EventPage, EventSearch
from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/events", tags=["events"])


@router.post("/search", response_model=EventPage)
async def search_events(request: EventSearch, state: State) -> dict[str, Any]:
    """Search stored events with Lucene query syntax and a time range, newest first."""
    return await service.search_events(state.opensearch, state.settings.opensearch.index_prefix, request)
