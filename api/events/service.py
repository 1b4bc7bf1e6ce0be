from __future__ import annotations

from typing import Any

from canhgac.api.events.models import EventSearch
from canhgac.api.search import MAX_FROM, decode_cursor, encode_cursor, run_search, time_range
from canhgac.core.errors import InvalidRequest
from opensearchpy import AsyncOpenSearch

# Leading wildcards force a scan of every term of every field: refuse them with a reason.
ALLOW_LEADING_WILDCARD = False


async def search_events(client: AsyncOpenSearch, index_prefix: str, request: EventSearch) -> dict[str, Any]:
    if request.cursor is None and (request.page + 1) * request.size > MAX_FROM:
        raise InvalidRequest(f"page too deep: use `cursor` to page past {MAX_FROM} hits")
    filters: list[dict[str, Any]] = []
    rng = time_range("@timestamp", request.start, request.end)
    if rng:
        filters.append(rng)
    query_text = request.query.strip() or "*"
    must = (
        {"match_all": {}}
        if query_text == "*"
        else {
            "query_string": {
                "query": query_text,
                "default_field": "message",
                "allow_leading_wildcard": ALLOW_LEADING_WILDCARD,
                "analyze_wildcard": True,
            }
        }
    )
    body: dict[str, Any] = {
        "query": {"bool": {"must": [must], "filter": filters}},
        # unmapped_type: before the first event arrives the indices have no mapping to sort on.
        "sort": [
            {"@timestamp": {"order": "desc", "unmapped_type": "date"}},
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
    result = await run_search(client, f"{index_prefix}.*", body)
    hits = result["hits"]["hits"]
    return {
        "total": result["hits"]["total"]["value"],
        "items": [h["_source"] for h in hits],
        "next": encode_cursor(hits[-1]["sort"]) if len(hits) == request.size else None,
    }
