from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from canhgac.api.auth.models import Principal
from canhgac.api.query_guard import check_lucene
from canhgac.api.saved_searches.models import SavedSearchCreate
from canhgac.api.search import require_zone, run_search
from canhgac.core.alert import SOC_AGENCY, iso
from canhgac.core.config import OpenSearchConfig, Settings
from canhgac.core.errors import InvalidRequest, NotFound, PermissionDenied
from canhgac.core.ids import new_id
from canhgac.core.index import Index
from opensearchpy import AsyncOpenSearch

MAX_LISTED = 500
MAX_PER_OWNER = 200


def saved_searches_index(cfg: OpenSearchConfig) -> str:
    return f"{cfg.config_index_prefix}-saved-searches"


def team_of(principal: Principal) -> str:
    """An agency user's agency; everyone else (SOC staff) is the SOC's team."""
    return principal.agency_scope or SOC_AGENCY


def _visible(principal: Principal) -> dict[str, Any]:
    """Within the caller's team only: their own, and the team's shared ones."""
    return {
        "bool": {
            "filter": [{"term": {"team": team_of(principal)}}],
            "should": [{"term": {"owner": principal.username}}, {"term": {"shared": True}}],
            "minimum_should_match": 1,
        }
    }


async def list_saved(client: AsyncOpenSearch, cfg: OpenSearchConfig, principal: Principal) -> list[dict[str, Any]]:
    body = {"size": MAX_LISTED, "query": _visible(principal), "sort": [{"name": {"order": "asc"}}]}
    result = await run_search(client, saved_searches_index(cfg), body)
    return [h["_source"] for h in result["hits"]["hits"]]


async def create_saved(
    client: AsyncOpenSearch, settings: Settings, principal: Principal, body: SavedSearchCreate
) -> dict[str, Any]:
    require_zone(body.start, body.end)
    if body.start and body.end and body.start > body.end:
        raise InvalidRequest("start is after end")
    if body.query.strip() not in ("", "*"):
        check_lucene(body.query, settings.api.max_query_chars)  # never store what search would refuse
    index = Index(client, saved_searches_index(settings.opensearch))
    if await index.count({"term": {"owner": principal.username}}) >= MAX_PER_OWNER:
        raise InvalidRequest(f"too many saved searches: at most {MAX_PER_OWNER} each; delete some first")
    doc = body.model_dump(mode="json") | {
        "id": new_id(),
        "owner": principal.username,
        "team": team_of(principal),
        "created_at": iso(datetime.now(UTC)),
        # Stored in UTC (as every time); `zone` says where the analyst picked it.
        "start": iso(body.start) if body.start else None,
        "end": iso(body.end) if body.end else None,
    }
    await index.put(doc["id"], doc, create=True, refresh="wait_for")
    return doc


async def delete_saved(
    client: AsyncOpenSearch, cfg: OpenSearchConfig, principal: Principal, search_id: str
) -> dict[str, Any]:
    """The owner deletes a saved search, or an admin of the same team a shared one."""
    index = Index(client, saved_searches_index(cfg))
    doc = await index.find(search_id)
    missing = f"no saved search {search_id}"
    if doc is None or doc.get("team") != team_of(principal):
        raise NotFound(missing)
    if doc.get("owner") != principal.username:
        if not doc.get("shared"):
            raise NotFound(missing)
        if principal.role != "admin":
            raise PermissionDenied("only its owner (or an admin) may delete a saved search")
    await index.delete(search_id, refresh="wait_for")
    return doc
