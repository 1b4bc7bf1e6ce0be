"""Sources: declared senders (the settings file, and `<config_index_prefix>-sources` for those an
admin added through the API) merged with their health (last event, rate, parse errors, silence)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from canhgac.api.search import run_search, scope_filter
from canhgac.api.sources.models import SourceCreate, SourceUpdate
from canhgac.core.config import Settings
from canhgac.core.errors import Conflict, InvalidRequest
from canhgac.core.formats import canonical_format, known_formats
from canhgac.core.index import Index
from opensearchpy import AsyncOpenSearch

KEY_BYTES = 32
_PUBLIC = (
    "id",
    "agency",
    "format",
    "transports",
    "allowed_addresses",
    "security_level",
    "expected_interval_secs",
    "timezone",
    "enabled",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "key_rotated_at",
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_key() -> tuple[str, str]:
    """(key, its hex SHA-256). 32 random bytes: an unsalted fast hash is safe (collectors/base.py)."""
    key = secrets.token_urlsafe(KEY_BYTES)
    return key, hashlib.sha256(key.encode()).hexdigest()


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored source without its key hash."""
    return {k: doc.get(k) for k in _PUBLIC} | {
        "enabled": doc.get("enabled", True),
        "declared": True,
        "origin": "api",
        "has_ingest_key": bool(doc.get("ingest_key_sha256")),
    }


async def api_sources(client: AsyncOpenSearch, index: str, agency: str | None) -> list[dict[str, Any]]:
    body = {"size": 10_000, "query": {"bool": {"filter": scope_filter("agency", agency)}}}
    result = await run_search(client, index, body)
    return [h["_source"] for h in result["hits"]["hits"]]


async def list_sources(client: AsyncOpenSearch, settings: Settings, agency: str | None) -> list[dict[str, Any]]:
    """Declared sources (settings and API) and every source the health stage has seen, one row each."""
    body = {"size": 1000, "query": {"bool": {"filter": scope_filter("agency", agency)}}}
    result = await run_search(client, settings.opensearch.sources_index, body)
    health = {h["_source"].get("id") or h["_id"]: h["_source"] for h in result["hits"]["hits"]}
    rows: dict[str, dict[str, Any]] = {}
    for doc in await api_sources(client, settings.opensearch.source_configs_index, agency):
        rows[doc["id"]] = public(doc)
    for src in settings.sources:
        if agency is not None and src.agency != agency:
            continue
        rows[src.id] = {
            "id": src.id,
            "agency": src.agency,
            "format": src.format,
            "declared": True,
            "origin": "settings",
            "security_level": src.security_level,
            "expected_interval_secs": src.expected_interval_secs,
            "timezone": src.timezone,
            "transports": list(src.transports),
            "allowed_addresses": list(src.allowed_addresses),
            "enabled": src.enabled,
        }
    for source_id, stats in health.items():
        rows[source_id] = {"id": source_id, "declared": False, **rows.get(source_id, {}), "health": stats}
    return sorted(rows.values(), key=lambda r: (str(r.get("agency")), r["id"]))


async def create_source(
    client: AsyncOpenSearch, settings: Settings, body: SourceCreate, by: str
) -> tuple[dict[str, Any], str]:
    """Store a new source with a fresh ingest key; (the stored source, the key — shown once)."""
    if any(s.id == body.id for s in settings.sources):
        raise Conflict(f"source {body.id} is declared in the settings file")
    key, digest = new_key()
    now = _now()
    doc = body.model_dump() | {
        "format": parser_format(body.format),
        "ingest_key_sha256": digest,
        "created_at": now,
        "updated_at": now,
        "created_by": by,
        "key_rotated_at": now,
    }
    await Index(client, settings.opensearch.source_configs_index).put(
        body.id, doc, create=True, exists=f"source {body.id} exists", refresh="wait_for"
    )
    return public(doc), key


async def rotate_key(client: AsyncOpenSearch, settings: Settings, source_id: str) -> tuple[str, str]:
    """A new ingest key for an API-declared source; the old one stops working. (key, rotated at)."""
    index = settings.opensearch.source_configs_index
    if any(s.id == source_id for s in settings.sources):
        raise Conflict(f"source {source_id} is declared in the settings file: set its ingest_key_sha256 there")
    key, digest = new_key()
    now = _now()
    await Index(client, index).update(
        source_id,
        {"ingest_key_sha256": digest, "key_rotated_at": now, "updated_at": now},
        missing=f"no source {source_id}",
        refresh="wait_for",
    )
    return key, now


def parser_format(name: str) -> str:
    """The parser's name for a format or an alias (`nginx` -> `nginx-access`); 400 naming the known
    ones for a format no parser has (its records would all be pipeline errors)."""
    canonical = canonical_format(name)
    if canonical is None:
        raise InvalidRequest(f"unknown format {name!r}; known: {known_formats()}")
    return canonical


def _settings_owned(settings: Settings, source_id: str) -> None:
    if any(s.id == source_id for s in settings.sources):
        raise Conflict(f"source {source_id} is declared in the settings file: change it there (and restart)")


async def update_source(
    client: AsyncOpenSearch, settings: Settings, source_id: str, body: SourceUpdate, by: str
) -> dict[str, Any]:
    """Change an API-declared source (only the fields given); every component follows within
    `sources_refresh_secs`. Returns the stored source."""
    _settings_owned(settings, source_id)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("format") is not None:
        changes["format"] = parser_format(changes["format"])
    # An explicit null for a field that has a default is a mistake, not "unset": refuse it.
    nulls = sorted(k for k, v in changes.items() if v is None)
    if nulls:
        raise InvalidRequest(f"fields cannot be null: {', '.join(nulls)}")
    index = Index(client, settings.opensearch.source_configs_index)
    changes |= {"updated_at": _now(), "updated_by": by}
    await index.update(source_id, changes, missing=f"no source {source_id}", refresh="wait_for")
    return public(await index.get(source_id, missing=f"no source {source_id}"))


async def delete_source(client: AsyncOpenSearch, settings: Settings, source_id: str) -> None:
    """Forget an API-declared source: its senders stop being matched (unknown senders again) and
    its ingest key stops working, in every component within `sources_refresh_secs`."""
    _settings_owned(settings, source_id)
    await Index(client, settings.opensearch.source_configs_index).delete(
        source_id, missing=f"no source {source_id}", refresh="wait_for"
    )
