"""Lookup tables in `<config_index_prefix>-lookups` (one document per table, id = name). The
normaliser re-reads them every `pipeline.lookups.refresh_secs` (core/lookups.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from canhgac.core.config import OpenSearchConfig
from canhgac.core.errors import InvalidRequest
from canhgac.core.index import Index
from canhgac.core.lookups import LookupRow
from canhgac.core.systems import systems_index
from opensearchpy import AsyncOpenSearch


def _index(client: AsyncOpenSearch, cfg: OpenSearchConfig) -> Index:
    return Index(client, cfg.lookups_index)


def _missing(name: str) -> str:
    return f"no lookup table {name!r}"


def public(doc: dict[str, Any], *, rows: bool = True) -> dict[str, Any]:
    stored = list(doc.get("rows") or [])
    out = {
        "name": doc.get("name") or doc.get("id"),
        "description": doc.get("description") or "",
        "count": len(stored),
        "updated_at": doc.get("updated_at"),
        "updated_by": doc.get("updated_by"),
    }
    return out | ({"rows": stored} if rows else {})


async def linked_rows(client: AsyncOpenSearch, cfg: OpenSearchConfig, rows: list[LookupRow]) -> list[LookupRow]:
    """Rows naming an information system must name one of the inventory; a row without an agency
    takes its system's (the inventory says who owns a system, the table need not repeat it)."""
    ids = sorted({row.system for row in rows if row.system})
    if not ids:
        return rows
    systems = {doc["id"]: doc for doc in await Index(client, systems_index(cfg)).get_many(ids)}
    unknown = [i for i in ids if i not in systems]
    if unknown:
        raise InvalidRequest(f"no information system {', '.join(map(repr, unknown[:10]))} (see /api/v1/systems)")
    return [
        row.model_copy(update={"agency": systems[row.system].get("agency")}) if row.system and not row.agency else row
        for row in rows
    ]


async def list_tables(client: AsyncOpenSearch, cfg: OpenSearchConfig) -> list[dict[str, Any]]:
    docs = await _index(client, cfg).read_all()
    return sorted((public(d, rows=False) for d in docs), key=lambda d: d["name"])


async def get_table(client: AsyncOpenSearch, cfg: OpenSearchConfig, name: str) -> dict[str, Any]:
    return public({"id": name, **await _index(client, cfg).get(name, missing=_missing(name))})


async def put_table(
    client: AsyncOpenSearch, cfg: OpenSearchConfig, name: str, description: str, rows: list[LookupRow], by: str
) -> dict[str, Any]:
    linked = await linked_rows(client, cfg, rows)
    doc = {
        "name": name,
        "description": description,
        "rows": [row.model_dump(exclude_none=True) for row in linked],
        "updated_at": datetime.now(UTC).isoformat(),
        "updated_by": by,
    }
    await _index(client, cfg).put(name, doc, refresh="wait_for")
    return public(doc)


async def delete_table(client: AsyncOpenSearch, cfg: OpenSearchConfig, name: str) -> None:
    await _index(client, cfg).delete(name, missing=_missing(name), refresh="wait_for")
