from __future__ import annotations

from typing import Any

from canhgac.api.search import run_search, scope_filter
from canhgac.core.config import Settings
from opensearchpy import AsyncOpenSearch


async def list_sources(
    client: AsyncOpenSearch, settings: Settings, agency: str | None
) -> list[dict[str, Any]]:
    """Declared sources (settings) and every source the health stage has seen, one row each."""
    body = {"size": 1000, "query": {"bool": {"filter": scope_filter("agency", agency)}}}
    result = await run_search(client, settings.opensearch.sources_index, body)
    health = {h["_source"].get("id") or h["_id"]: h["_source"] for h in result["hits"]["hits"]}
    rows: dict[str, dict[str, Any]] = {}
    for src in settings.sources:
        if agency is not None and src.agency != agency:
            continue
        rows[src.id] = {
            "id": src.id,
            "agency": src.agency,
            "format": src.format,
            "declared": True,
            "security_level": src.security_level,
            "expected_interval_secs": src.expected_interval_secs,
        }
    for source_id, stats in health.items():
        rows[source_id] = {"id": source_id, "declared": False, **rows.get(source_id, {}), "health": stats}
    return sorted(rows.values(), key=lambda r: (str(r.get("agency")), r["id"]))
