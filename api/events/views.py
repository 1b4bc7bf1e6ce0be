from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from canhgac.api.audit.service import audit
from canhgac.api.deps import Reader, State
from canhgac.api.events import service
from canhgac.api.events.export import MEDIA_TYPES, export_events
from canhgac.api.events.models import (
    EventPage,
    EventSearch,
    ExportRequest,
    Histogram,
    HistogramRequest,
    TopRequest,
    TopValues,
)
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

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


@router.post(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "the events, newest first; headers X-Export-Rows / -Total / -Cap / -Truncated",
            "content": {t.split(";")[0]: {"schema": {"type": "string"}} for t in MEDIA_TYPES.values()},
        }
    },
)
async def export(request: ExportRequest, principal: Reader, http: Request, state: State) -> StreamingResponse:
    """The events a search matches as CSV (chosen columns) or NDJSON (whole events), streamed, at
    most `api.max_export_rows` rows (or `limit`); every export is in the audit log."""
    result = await export_events(state.opensearch, state.settings, request, principal.agency_scope)
    await audit(
        http,
        actor=principal,
        action="events.export",
        target_type="events",
        details={
            "query": request.query,
            "start": request.start.isoformat() if request.start else None,
            "end": request.end.isoformat() if request.end else None,
            "format": request.format,
            "rows": result.rows,
            "total": result.total,
            "cap": result.cap,
        },
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        result.body,
        media_type=MEDIA_TYPES[request.format],
        headers={
            "Content-Disposition": f'attachment; filename="canhgac-events-{stamp}.{request.format}"',
            "Cache-Control": "no-store",
            "X-Export-Rows": str(result.rows),
            "X-Export-Total": str(result.total),
            "X-Export-Cap": str(result.cap),
            "X-Export-Truncated": "true" if result.truncated else "false",
        },
    )
