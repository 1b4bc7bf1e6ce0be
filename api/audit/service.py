from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from canhgac.api.audit.chain import append
from canhgac.api.auth.models import Principal
from canhgac.api.deps import client_ip, get_state
from canhgac.api.search import decode_cursor, encode_cursor, run_search, time_range
from canhgac.core.alert import SOC_AGENCY
from canhgac.core.errors import BackendUnavailable
from fastapi import Request
from opensearchpy import AsyncOpenSearch

log = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def audit_tenant(actor: Principal | str) -> str:
    """Whose chain a record joins: the acting agency's, or the SOC's (SOC staff, failed logins)."""
    if isinstance(actor, Principal) and actor.agency:
        return actor.agency
    return SOC_AGENCY


async def record(
    client: AsyncOpenSearch,
    index: str,
    *,
    actor: Principal | str,
    action: str,
    target_type: str,
    target_id: str | None = None,
    details: dict[str, Any] | None = None,
    outcome: str = "success",
    client_ip: str | None = None,
) -> None:
    if isinstance(actor, Principal):
        who = {"username": actor.username, "role": actor.role, "agency": actor.agency, "via": actor.via}
    else:
        who = {"username": actor}
    doc = {
        "@timestamp": _now(),
        "actor": who,
        "action": action,
        "outcome": outcome,
        "target": {"type": target_type, "id": target_id},
        "client": {"ip": client_ip},
        "details": details or {},
    }
    try:
        await append(client, index, audit_tenant(actor), doc)
    except BackendUnavailable as exc:
        # The action itself succeeded; losing its audit record is logged loudly, never silent.
        log.error("audit record lost (%s): %s", exc, doc)


async def audit(
    request: Request,
    *,
    actor: Principal | str,
    action: str,
    target_type: str,
    target_id: str | None = None,
    details: dict[str, Any] | None = None,
    outcome: str = "success",
) -> None:
    """Record what a request did: the one call every route uses (the state and the caller's
    address come from the request, so routes cannot pass the wrong index or address)."""
    state = get_state(request)
    await record(
        state.opensearch,
        state.settings.opensearch.audit_index,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=details,
        outcome=outcome,
        client_ip=client_ip(request),
    )


async def list_audit(
    client: AsyncOpenSearch,
    index: str,
    *,
    actor: str | None,
    action: str | None,
    target_id: str | None,
    start: datetime | None,
    end: datetime | None,
    size: int,
    cursor: str | None,
) -> dict[str, Any]:
    filters: list[dict[str, Any]] = []
    if actor:
        filters.append({"term": {"actor.username": actor}})
    if action:
        filters.append({"term": {"action": action}})
    if target_id:
        filters.append({"term": {"target.id": target_id}})
    rng = time_range("@timestamp", start, end)
    if rng:
        filters.append(rng)
    body: dict[str, Any] = {
        "query": {"bool": {"filter": filters}},
        "sort": [
            {"@timestamp": {"order": "desc", "unmapped_type": "date"}},
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
