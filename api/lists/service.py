"""Watch and allow lists in `<config_index_prefix>-lists` (one document per list, id = name).
The detector reads them every reload cycle (pipeline/rule_config.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from canhgac.core.config import OpenSearchConfig
from canhgac.core.errors import BackendUnavailable, InvalidRequest
from canhgac.core.index import Index
from canhgac.core.watchlists import LISTS, MAX_LIST_VALUES, ListType, WatchList, normalise_value
from opensearchpy import AsyncOpenSearch


def _index(client: AsyncOpenSearch, cfg: OpenSearchConfig) -> Index:
    return Index(client, cfg.lists_index)


def _missing(name: str) -> str:
    return f"no list {name!r}"


def checked_values(kind: ListType, values: list[str]) -> list[str]:
    """Normalised, without duplicates, in the order given; InvalidRequest names every bad value."""
    out: dict[str, None] = {}
    bad: list[str] = []
    for value in values:
        try:
            out[normalise_value(kind, value)] = None
        except ValueError as exc:
            bad.append(str(exc))
    if bad:
        raise InvalidRequest(f"{len(bad)} bad values: " + "; ".join(bad[:10]))
    if len(out) > MAX_LIST_VALUES:
        raise InvalidRequest(f"a list holds at most {MAX_LIST_VALUES} values")
    return list(out)


def public(doc: dict[str, Any]) -> dict[str, Any]:
    values = list(doc.get("values") or [])
    return {
        "name": doc.get("name") or doc.get("id"),
        "type": doc["type"],
        "description": doc.get("description") or "",
        "values": values,
        "count": len(values),
        "updated_at": doc.get("updated_at"),
        "updated_by": doc.get("updated_by"),
    }


async def list_lists(client: AsyncOpenSearch, cfg: OpenSearchConfig) -> list[dict[str, Any]]:
    docs = await _index(client, cfg).read_all()
    return sorted((public(d) for d in docs), key=lambda d: d["name"])


async def get_list(client: AsyncOpenSearch, cfg: OpenSearchConfig, name: str) -> dict[str, Any]:
    return public({"id": name, **await _index(client, cfg).get(name, missing=_missing(name))})


async def put_list(
    client: AsyncOpenSearch,
    cfg: OpenSearchConfig,
    name: str,
    kind: ListType,
    description: str,
    values: list[str],
    by: str,
) -> dict[str, Any]:
    doc = {
        "name": name,
        "type": kind,
        "description": description,
        "values": checked_values(kind, values),
        "updated_at": datetime.now(UTC).isoformat(),
        "updated_by": by,
    }
    await _index(client, cfg).put(name, doc, refresh="wait_for")
    return public(doc)


async def edit_list(
    client: AsyncOpenSearch, cfg: OpenSearchConfig, name: str, add: list[str], remove: list[str], by: str
) -> dict[str, Any]:
    index = _index(client, cfg)
    current = await index.get_versioned(name, missing=_missing(name))
    kind: ListType = current.source["type"]
    removed = set(checked_values(kind, remove))
    values = [v for v in checked_values(kind, [*current.source.get("values", []), *add]) if v not in removed]
    changes = {"values": values, "updated_at": datetime.now(UTC).isoformat(), "updated_by": by}
    await index.update(name, changes, missing=_missing(name), refresh="wait_for", version=current)
    return public({**current.source, **changes, "name": name})


async def delete_list(client: AsyncOpenSearch, cfg: OpenSearchConfig, name: str) -> None:
    await _index(client, cfg).delete(name, missing=_missing(name), refresh="wait_for")


async def refresh_process_lists(client: AsyncOpenSearch, cfg: OpenSearchConfig) -> None:
    """This process's copy of the lists, read now: testing a pasted rule that names a list
    (`POST /api/v1/rules/test`) sees the lists as they are (the detector keeps its own copy)."""
    try:
        docs = await _index(client, cfg).read_all()
    except BackendUnavailable:
        return  # the last copy; a rule test is not worth failing over it
    LISTS.replace_from_docs(docs)


async def stored_lists(client: AsyncOpenSearch, cfg: OpenSearchConfig) -> dict[str, WatchList]:
    """Every list as stored now, by name, for expanding into a rule's converted query (back-tests,
    retro-hunts: rules/convert_lists.py); a document that does not read is skipped, as by the
    detector. Unreadable lists fail the caller (BackendUnavailable): a query without them would
    answer wrongly."""
    lists: dict[str, WatchList] = {}
    for doc in await _index(client, cfg).read_all():
        try:
            listed = WatchList.model_validate(doc)
        except ValueError:
            continue
        lists[listed.name] = listed
    return lists
