"""Onboarding a source: its shipper configurations (api/sources/shippers.py) and the checks an
agency watches while it connects — has the first event arrived, and how many of the last hour's
records could not be parsed.

Both checks read the stored events (`<index_prefix>.*`), so "received" means through the whole
pipeline (collector, Kafka, normaliser, indexer), not merely accepted by a collector. A record the
normaliser could not parse is still stored, as `event.kind: pipeline_error` (its copy goes to the
DLQ with reason `parse_error` or `parser_crash`): the parse-error rate is those records over all
the source's records that arrived (`event.ingested`) in the last hour.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from canhgac.api.search import run_search
from canhgac.api.sources.shippers import render
from canhgac.core.config import Settings, SourceConfig
from canhgac.core.errors import InvalidRequest, NotFound
from canhgac.core.index import Index
from opensearchpy import AsyncOpenSearch

WINDOW = "now-1h"


async def declared_source(
    client: AsyncOpenSearch, settings: Settings, source_id: str, agency: str | None
) -> tuple[SourceConfig, str | None]:
    """The source's declaration and its key hash, if the caller may see it (another agency's: 404)."""
    missing = f"no source {source_id}"
    for src in settings.sources:
        if src.id == source_id:
            found, digest = src, src.ingest_key_sha256
            break
    else:
        doc = await Index(client, settings.opensearch.source_configs_index).get(source_id, missing=missing)
        fields = {k: doc[k] for k in SourceConfig.model_fields if k in doc and k != "ingest_key_sha256"}
        found, digest = SourceConfig.model_validate(fields), doc.get("ingest_key_sha256")
    if agency is not None and found.agency != agency:
        raise NotFound(missing)
    return found, digest


async def shipper_configs(
    client: AsyncOpenSearch, settings: Settings, source_id: str, agency: str | None, key: str | None
) -> dict[str, Any]:
    """The configurations with `key` filled in; a key that is not the source's is refused (400),
    so a mistyped or old key never ends up in a shipper."""
    source, digest = await declared_source(client, settings, source_id, agency)
    if key is not None:
        given = hashlib.sha256(key.encode()).hexdigest()
        if digest is None or not hmac.compare_digest(given, digest):
            raise InvalidRequest(f"this is not the current ingest key of source {source_id}")
    configs = render(source, settings.api.onboarding, key)
    return {
        "source_id": source.id,
        "allowed_addresses": list(source.allowed_addresses),
        "key_filled": key is not None,
        "items": [c.__dict__ for c in configs],
    }


async def first_event_status(
    client: AsyncOpenSearch, settings: Settings, source_id: str, agency: str | None
) -> dict[str, Any]:
    """First and last arrival of the source's events, and the last hour's parse errors."""
    await declared_source(client, settings, source_id, agency)
    body = {
        "size": 0,
        "track_total_hits": True,
        "query": {"bool": {"filter": [{"term": {"canhgac.source_id": source_id}}]}},
        "aggs": {
            "first": {"min": {"field": "event.ingested"}},
            "last": {"max": {"field": "event.ingested"}},
            "hour": {
                "filter": {"range": {"event.ingested": {"gte": WINDOW}}},
                "aggs": {"errors": {"filter": {"term": {"event.kind": "pipeline_error"}}}},
            },
        },
    }
    result = await run_search(client, f"{settings.opensearch.index_prefix}.*", body)
    aggs = result.get("aggregations") or {}
    total = result["hits"]["total"]["value"]
    hour = aggs.get("hour", {}).get("doc_count", 0)
    errors = aggs.get("hour", {}).get("errors", {}).get("doc_count", 0)
    return {
        "source_id": source_id,
        "received": total > 0,
        "events_total": total,
        "first_event_at": (aggs.get("first") or {}).get("value_as_string") if total else None,
        "last_event_at": (aggs.get("last") or {}).get("value_as_string") if total else None,
        "last_hour_events": hour,
        "last_hour_parse_errors": errors,
        "last_hour_parse_error_rate": round(errors / hour, 4) if hour else None,
    }
