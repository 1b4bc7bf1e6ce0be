from __future__ import annotations

from typing import Any

from canhgac.api.deps import Reader, State
from canhgac.api.events import service
from canhgac.api.events.models import (
    EventPage,
    EventSearch,
    Histogram,
    HistogramRequest,
    TopRequest,
    TopValues,
)
from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/events", tags=["events"])


@router.post("/search", response_model=EventPage)
async def search_events(request: EventSearch, principal: Reader, state: State) -> dict[str, Any]:
    """Search stored events with Lucene query syntax and a time range, newest first.

    Leading wildcards, regular expressions starting with a wildcard and over-long queries are
    refused with 400. Past 10,000 hits, page with `cursor` (the previous page's `next`)."""
    return await service.search_events(state.opensearch, state.settings, request, principal.agency_scope)


@router.post("/histogram", response_model=Histogram)
async def histogram(request: HistogramRequest, principal: Reader, state: State) -> dict[str, Any]:
    """Events per time bucket for a query (the search page's bar chart)."""
    return await service.histogram(state.opensearch, state.settings, request, principal.agency_scope)


@router.post("/top", response_model=TopValues)
async def top(request: TopRequest, principal: Reader, state: State) -> dict[str, Any]:
    """The most frequent values of a keyword field among the events a query matches."""
    return await service.top(state.opensearch, state.settings, request, principal.agency_scope)
