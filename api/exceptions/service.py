"""Rule exceptions in `<config_index_prefix>-exceptions`; the detector reads them on its reload cycle."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from canhgac.api.exceptions.models import ExceptionCreate, ExceptionUpdate
from canhgac.api.search import run_search
from canhgac.core.errors import Conflict, InvalidRequest
from canhgac.core.index import Index
from canhgac.rules.exceptions import MAX_CONDITIONS, parse_time
from opensearchpy import AsyncOpenSearch

MAX_LISTED = 10_000


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _out(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    expires = parse_time(doc.get("expires_at"))
    approved = doc.get("state", "approved") == "approved"
    return {**doc, "active": approved and (expires is None or now < expires)}


async def list_exceptions(
    client: AsyncOpenSearch,
    index: str,
    rule_id: str | None,
    *,
    state: str | None = None,
    agency: str | None = None,
) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = [{"term": {"rule_id": rule_id}}] if rule_id else []
    if state == "approved":  # older exceptions have no state: they are approved ones
        filters.append({"bool": {"must_not": {"terms": {"state": ["requested", "rejected"]}}}})
    elif state:
        filters.append({"term": {"state": state}})
    if agency is not None:
        filters.append({"term": {"agency": agency}})
    query: dict[str, Any] = {"bool": {"filter": filters}}
    body = {"size": MAX_LISTED, "query": query, "sort": [{"created_at": {"order": "desc", "unmapped_type": "date"}}]}
    result = await run_search(client, index, body)
    now = datetime.now(UTC)
    return [_out(h["_source"], now) for h in result["hits"]["hits"]]


async def get_exception(client: AsyncOpenSearch, index: str, exception_id: str) -> dict[str, Any]:
    return await Index(client, index).get(exception_id, missing=f"no exception {exception_id}")


async def _write(client: AsyncOpenSearch, index: str, doc: dict[str, Any]) -> None:
    # wait_for: the list the analyst sees next already holds the change.
    await Index(client, index).put(doc["id"], doc, refresh="wait_for")


async def create_exception(client: AsyncOpenSearch, index: str, body: ExceptionCreate, by: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    doc = {
        "id": uuid.uuid4().hex,
        "rule_id": body.rule_id,
        "conditions": [c.model_dump() for c in body.conditions],
        "reason": body.reason,
        "author": by,
        "created_at": _iso(now),
        "updated_at": _iso(now),
        "updated_by": by,
        "expires_at": _iso(body.expires_at) if body.expires_at else None,
        "state": "approved",
    }
    await _write(client, index, doc)
    return _out(doc, now)


AGENCY_FIELD = "canhgac.agency"


async def request_exception(
    client: AsyncOpenSearch, index: str, body: ExceptionCreate, by: str, agency: str
) -> dict[str, Any]:
    """An agency's request: stored as `requested` (the detector ignores it), and narrowed to the
    agency's own events, so an approved request can never silence a rule for another agency."""
    conditions = [c.model_dump() for c in body.conditions if c.field != AGENCY_FIELD]
    if len(conditions) >= MAX_CONDITIONS:
        raise InvalidRequest(f"at most {MAX_CONDITIONS - 1} conditions (the agency is added as one)")
    conditions.append({"field": AGENCY_FIELD, "op": "equals", "value": agency})
    now = datetime.now(UTC)
    doc = {
        "id": uuid.uuid4().hex,
        "rule_id": body.rule_id,
        "conditions": conditions,
        "reason": body.reason,
        "author": by,
        "created_at": _iso(now),
        "updated_at": _iso(now),
        "updated_by": by,
        "expires_at": _iso(body.expires_at) if body.expires_at else None,
        "state": "requested",
        "agency": agency,
        "requested_by": by,
    }
    await _write(client, index, doc)
    return _out(doc, now)


async def decide(
    client: AsyncOpenSearch, index: str, exception_id: str, *, approve: bool, by: str, comment: str | None
) -> dict[str, Any]:
    """requested → approved or rejected, once; written only if nobody decided meanwhile."""
    found = await Index(client, index).get_versioned(exception_id, missing=f"no exception {exception_id}")
    doc = found.source
    if doc.get("state") != "requested":
        raise Conflict(f"exception {exception_id} is {doc.get('state', 'approved')}, not a pending request")
    now = datetime.now(UTC)
    changes = {
        "state": "approved" if approve else "rejected",
        "decided_by": by,
        "decided_at": _iso(now),
        "decision_comment": comment,
        "updated_at": _iso(now),
        "updated_by": by,
    }
    await Index(client, index).update(exception_id, changes, version=found, refresh="wait_for")
    return _out(doc | changes, now)


async def update_exception(
    client: AsyncOpenSearch, index: str, exception_id: str, body: ExceptionUpdate, by: str
) -> tuple[dict[str, Any], list[str]]:
    doc = await get_exception(client, index, exception_id)
    changed = sorted(body.model_fields_set)
    if body.conditions is not None:
        doc["conditions"] = [c.model_dump() for c in body.conditions]
    if body.reason is not None:
        doc["reason"] = body.reason
    if "expires_at" in body.model_fields_set:
        doc["expires_at"] = _iso(body.expires_at) if body.expires_at else None
    now = datetime.now(UTC)
    doc["updated_at"] = _iso(now)
    doc["updated_by"] = by
    await _write(client, index, doc)
    return _out(doc, now), changed


async def delete_exception(client: AsyncOpenSearch, index: str, exception_id: str) -> dict[str, Any]:
    doc = await get_exception(client, index, exception_id)
    await Index(client, index).delete(exception_id, missing=f"no exception {exception_id}", refresh="wait_for")
    return doc
