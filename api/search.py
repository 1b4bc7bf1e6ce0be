"""Shared search plumbing: time ranges, cursors, and OpenSearch errors turned into clear answers."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import orjson
from canhgac.core.errors import InvalidRequest
from canhgac.core.index import Index

MAX_FROM = 10_000  # OpenSearch's index.max_result_window: deeper pages go through the cursor


def require_zone(*times: datetime | None) -> None:
    """A time without a zone is refused (400), as everywhere in the API: guessing UTC or the
    province's zone would silently shift an analyst's range by seven hours."""
    if any(t is not None and t.utcoffset() is None for t in times):
        raise InvalidRequest("give start and end with a time zone (Z or +07:00)")


def time_range(field: str, start: datetime | None, end: datetime | None) -> dict[str, Any] | None:
    require_zone(start, end)
    if start and end and start > end:
        raise InvalidRequest("start is after end")
    bounds: dict[str, str] = {}
    if start:
        bounds["gte"] = start.isoformat()
    if end:
        bounds["lte"] = end.isoformat()
    return {"range": {field: bounds}} if bounds else None


def encode_cursor(sort_values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(sort_values)).decode()


def decode_cursor(cursor: str) -> list[Any]:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidRequest("cursor is not valid; use the `next` value of a previous page") from exc
    if not isinstance(values, list):
        raise InvalidRequest("cursor is not valid; use the `next` value of a previous page")
    return values


async def run_search(client: Any, index: str, body: dict[str, Any]) -> dict[str, Any]:
    """A search over `index` (a name or pattern); errors translated by canhgac.core.index."""
    return await Index(client, index).search(body)


def scope_filter(field: str, agency: str | None) -> list[dict[str, Any]]:
    """The agency filter every query of an agency viewer carries (empty for everyone else)."""
    return [{"term": {field: agency}}] if agency is not None else []


async def date_histogram(
    client: Any,
    index: str,
    *,
    query: dict[str, Any],
    time_field: str,
    start: datetime,
    end: datetime,
    interval_secs: int,
    split_field: str | None = None,
    split_size: int = 10,
) -> dict[str, Any]:
    """Counts per time bucket, optionally split by the top values of a field."""
    histogram: dict[str, Any] = {
        "date_histogram": {
            "field": time_field,
            "fixed_interval": f"{interval_secs}s",
            "min_doc_count": 0,
            "extended_bounds": {"min": start.isoformat(), "max": end.isoformat()},
        }
    }
    if split_field:
        histogram["aggs"] = {"split": {"terms": {"field": split_field, "size": split_size}}}
    body = {"size": 0, "query": query, "aggs": {"histogram": histogram}, "timeout": "10s"}
    result = await run_search(client, index, body)
    buckets = result.get("aggregations", {}).get("histogram", {}).get("buckets", [])
    out = []
    for bucket in buckets:
        item: dict[str, Any] = {
            "t": bucket.get("key_as_string") or bucket["key"],
            "count": bucket["doc_count"],
        }
        if split_field:
            item["split"] = {str(b["key"]): b["doc_count"] for b in bucket.get("split", {}).get("buckets", [])}
        out.append(item)
    return {"interval_secs": interval_secs, "total": result["hits"]["total"]["value"], "buckets": out}


async def top_values(client: Any, index: str, *, query: dict[str, Any], field: str, size: int) -> dict[str, Any]:
    body = {
        "size": 0,
        "query": query,
        "aggs": {"top": {"terms": {"field": field, "size": size}}},
        "timeout": "10s",
    }
    result = await run_search(client, index, body)
    agg = result.get("aggregations", {}).get("top", {})
    return {
        "field": field,
        "total": result["hits"]["total"]["value"],
        "values": [{"value": b["key"], "count": b["doc_count"]} for b in agg.get("buckets", [])],
        "other": agg.get("sum_other_doc_count", 0),
    }
