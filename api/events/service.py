from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from canhgac.api.events.models import EventSearch, HistogramRequest, TopRequest
from canhgac.api.query_guard import check_field, histogram_interval, lucene
from canhgac.api.search import (
    MAX_FROM,
    date_histogram,
    decode_cursor,
    encode_cursor,
    require_zone,
    run_search,
    scope_filter,
    time_range,
    top_values,
)
from canhgac.core.archive import restored_index
from canhgac.core.config import Settings
from canhgac.core.errors import InvalidRequest, NotFound
from canhgac.core.index import translated
from opensearchpy import AsyncOpenSearch

AGENCY_FIELD = "canhgac.agency"
TIME_FIELD = "@timestamp"


def events_pattern(settings: Settings) -> str:
    return f"{settings.opensearch.index_prefix}.*"


def _query(
    settings: Settings, text: str, start: datetime | None, end: datetime | None, agency: str | None
) -> dict[str, Any]:
    filters: list[dict[str, Any]] = scope_filter(AGENCY_FIELD, agency)
    rng = time_range(TIME_FIELD, start, end)
    if rng:
        filters.append(rng)
    return {"bool": {"must": [lucene(text, settings.api.max_query_chars, "message")], "filter": filters}}


def default_window(start: datetime | None, end: datetime | None, hours: int = 24) -> tuple[datetime, datetime]:
    require_zone(start, end)
    end = end or datetime.now(UTC)
    if start is None:
        try:
            start = end - timedelta(hours=hours)
        except OverflowError:  # an end within `hours` of year 1: the default start does not exist
            raise InvalidRequest(f"end is too early: give a start, or an end after {hours} h of year 1") from None
    if start > end:
        raise InvalidRequest("start is after end")
    return start, end


async def search_events(
    client: AsyncOpenSearch, settings: Settings, request: EventSearch, agency: str | None
) -> dict[str, Any]:
    if request.size > settings.api.max_search_size:
        raise InvalidRequest(f"size too large: at most {settings.api.max_search_size}")
    if request.cursor is None and (request.page + 1) * request.size > MAX_FROM:
        raise InvalidRequest(f"page too deep: use `cursor` to page past {MAX_FROM} hits")
    body: dict[str, Any] = {
        "query": _query(settings, request.query, request.start, request.end, agency),
        # unmapped_type: before the first event arrives the indices have no mapping to sort on.
        "sort": [
            {TIME_FIELD: {"order": "desc", "unmapped_type": "date"}},
            {"event.id": {"order": "asc", "unmapped_type": "keyword"}},
        ],
        "size": request.size,
        "track_total_hits": True,
        "timeout": "10s",
    }
    if request.cursor:
        body["search_after"] = decode_cursor(request.cursor)
    else:
        body["from"] = request.page * request.size
    index = events_pattern(settings)
    if request.archive_day is not None:
        index = restored_index(settings.opensearch, request.archive_day)
        with translated():
            restored = await client.indices.exists(index=index)
        if not restored:
            raise NotFound(
                f"{request.archive_day} is not restored: `canhgac archive restore --day {request.archive_day}`"
            )
    result = await run_search(client, index, body)
    hits = result["hits"]["hits"]
    return {
        "total": result["hits"]["total"]["value"],
        "items": [h["_source"] for h in hits],
        "next": encode_cursor(hits[-1]["sort"]) if len(hits) == request.size else None,
    }


async def events_by_id(
    client: AsyncOpenSearch, settings: Settings, event_ids: list[str], agency: str | None
) -> list[dict[str, Any]]:
    if not event_ids:
        return []
    filters = [{"terms": {"event.id": event_ids[:500]}}, *scope_filter(AGENCY_FIELD, agency)]
    body = {
        "query": {"bool": {"filter": filters}},
        "sort": [{TIME_FIELD: {"order": "asc", "unmapped_type": "date"}}],
        "size": min(len(event_ids), 500),
    }
    result = await run_search(client, events_pattern(settings), body)
    return [h["_source"] for h in result["hits"]["hits"]]


async def histogram(
    client: AsyncOpenSearch, settings: Settings, request: HistogramRequest, agency: str | None
) -> dict[str, Any]:
    start, end = default_window(request.start, request.end)
    interval = histogram_interval(start, end, settings.api.max_buckets, request.interval_secs)
    split = check_field(request.split_field) if request.split_field else None
    return await date_histogram(
        client,
        events_pattern(settings),
        query=_query(settings, request.query, start, end, agency),
        time_field=TIME_FIELD,
        start=start,
        end=end,
        interval_secs=interval,
        split_field=split,
    )


# Full-text fields (core/store.py) are counted on their exact `.keyword` copy; every other
# string field is a keyword already, numbers and addresses count as they are.
FULL_TEXT_FIELDS = frozenset({"message", "log.original"})


def aggregatable(field: str) -> str:
    name = check_field(field)
    return f"{name}.keyword" if name in FULL_TEXT_FIELDS else name


async def top(client: AsyncOpenSearch, settings: Settings, request: TopRequest, agency: str | None) -> dict[str, Any]:
    """Top values of any field (the field browser): size bounded, query through the Lucene guard."""
    if request.size > settings.api.max_top_values:
        raise InvalidRequest(f"size too large: at most {settings.api.max_top_values} values")
    result = await top_values(
        client,
        events_pattern(settings),
        query=_query(settings, request.query, request.start, request.end, agency),
        field=aggregatable(request.field),
        size=request.size,
    )
    result["field"] = request.field
    return result
