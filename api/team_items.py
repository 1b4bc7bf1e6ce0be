"""Things an analyst saves for themself or shares with their team (saved searches, queue views):
one team per agency plus the SOC's, owner-or-shared visibility, owner-or-admin deletion."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from canhgac.api.auth.models import Principal
from canhgac.api.search import run_search
from canhgac.core.alert import SOC_AGENCY, iso
from canhgac.core.errors import InvalidRequest, NotFound, PermissionDenied
from canhgac.core.ids import new_id
from canhgac.core.index import Index
from opensearchpy import AsyncOpenSearch

MAX_LISTED = 500


def team_of(principal: Principal) -> str:
    """An agency user's agency; everyone else (SOC staff) is the SOC's team."""
    return principal.agency_scope or SOC_AGENCY


def visible_to(principal: Principal) -> dict[str, Any]:
    """Within the caller's team only: their own, and the team's shared ones."""
    return {
        "bool": {
            "filter": [{"term": {"team": team_of(principal)}}],
            "should": [{"term": {"owner": principal.username}}, {"term": {"shared": True}}],
            "minimum_should_match": 1,
        }
    }


async def list_items(client: AsyncOpenSearch, index: str, principal: Principal) -> list[dict[str, Any]]:
    body = {"size": MAX_LISTED, "query": visible_to(principal), "sort": [{"name": {"order": "asc"}}]}
    result = await run_search(client, index, body)
    return [h["_source"] for h in result["hits"]["hits"]]


async def create_item(
    client: AsyncOpenSearch,
    index: str,
    principal: Principal,
    fields: dict[str, Any],
    *,
    noun: str,
    max_per_owner: int,
) -> dict[str, Any]:
    """Store `fields` as the caller's new item (id, owner, team and creation time added)."""
    items = Index(client, index)
    if await items.count({"term": {"owner": principal.username}}) >= max_per_owner:
        raise InvalidRequest(f"too many {noun}s: at most {max_per_owner} each; delete some first")
    doc = fields | {
        "id": new_id(),
        "owner": principal.username,
        "team": team_of(principal),
        "created_at": iso(datetime.now(UTC)),
    }
    await items.put(doc["id"], doc, create=True, refresh="wait_for")
    return doc


async def delete_item(
    client: AsyncOpenSearch, index: str, principal: Principal, item_id: str, *, noun: str
) -> dict[str, Any]:
    """The owner deletes an item, or an admin of the same team a shared one; another team's, or
    someone's private one, does not exist for the caller."""
    items = Index(client, index)
    doc = await items.find(item_id)
    missing = f"no {noun} {item_id}"
    if doc is None or doc.get("team") != team_of(principal):
        raise NotFound(missing)
    if doc.get("owner") != principal.username:
        if not doc.get("shared"):
            raise NotFound(missing)
        if principal.role != "admin":
            raise PermissionDenied(f"only its owner (or an admin) may delete a {noun}")
    await items.delete(item_id, refresh="wait_for")
    return doc
