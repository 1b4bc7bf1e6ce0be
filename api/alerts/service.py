from __future__ import annotations

from datetime import datetime
from typing import Any

from canhgac.api.search import decode_cursor, encode_cursor, run_search, time_range
from canhgac.core.errors import BackendUnavailable, NotFound
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import NotFoundError


async def list_alerts(
    client: AsyncOpenSearch,
    index: str,
    *,
    severity: list[str] | None,
    rule_id: str | None,
    status: str | None,
    start: datetime | None,
    end: datetime | None,
    size: int,
    cursor: str | None,
) -> dict[str, Any]:
    filters: list[dict[str, Any]] = []
    if severity:
        filters.append({"terms": {"severity": severity}})
    if rule_id:
        filters.append({"term": {"rule.id": rule_id}})
    if status:
        filters.append({"term": {"status": status}})
    rng = time_range("last_seen", start, end)
    if rng:
        filters.append(rng)
    body: dict[str, Any] = {
        "query": {"bool": {"filter": filters}},
        "sort": [
            {"last_seen": {"order": "desc", "unmapped_type": "date"}},
            {"id": {"order": "asc", "unmapped_type": "keyword"}},
        ],
        "size": size,
        "track_total_hits": True,
    }
    if cursor:
        body["search_after"] = decode_cursor(cursor)
    result = await run_search(client, index, body)
    hits = result["hits"]["hits"]
    return {
        "total": result["hits"]["total"]["value"],
        "items": [h["_source"] for h in hits],
        "next": encode_cursor(hits[-1]["sort"]) if len(hits) == size else None,
    }


async def get_alert(client: AsyncOpenSearch, index: str, alert_id: str) -> dict[str, Any]:
    try:
        doc = await client.get(index=index, id=alert_id)
    except NotFoundError as exc:
        raise NotFound(f"alert {alert_id} not found") from exc
    except OSConnectionError as exc:
        raise BackendUnavailable("OpenSearch is unreachable") from exc
    source: dict[str, Any] = doc["_source"]
    return source
