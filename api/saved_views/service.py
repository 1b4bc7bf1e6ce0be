from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from canhgac.api.auth.models import Principal
from canhgac.api.saved_views.models import SavedViewCreate
from canhgac.api.search import run_search
from canhgac.core.alert import SOC_AGENCY, iso
from canhgac.core.config import OpenSearchConfig
from canhgac.core.errors import InvalidRequest, NotFound, PermissionDenied
from canhgac.core.ids import new_id
from canhgac.core.index import Index, create_index, translated
from opensearchpy import AsyncOpenSearch

MAX_LISTED = 500
MAX_PER_OWNER = 100
_KW = {"type": "keyword"}


def saved_views_index(cfg: OpenSearchConfig) -> str:
    return f"{cfg.config_index_prefix}-saved-views"


def saved_views_template(cfg: OpenSearchConfig) -> dict[str, Any]:
    # The filters are kept as written and never searched on: not mapped.
    properties = {
        "id": _KW,
        "name": _KW,
        "owner": _KW,
        "team": _KW,
        "shared": {"type": "boolean"},
        "created_at": {"type": "date"},
        "filters": {"type": "object", "enabled": False},
    }
    return {
        "index_patterns": [saved_views_index(cfg)],
        "priority": 210,
        "template": {
            "settings": {"number_of_shards": 1, "refresh_interval": "1s", "number_of_replicas": cfg.number_of_replicas},
            "mappings": {
                "dynamic": False,
                "properties": properties,
            },
        },
    }


async def ensure_saved_views_index(client: AsyncOpenSearch, cfg: OpenSearchConfig) -> None:
    with translated():
        await client.indices.put_index_template(name=saved_views_index(cfg), body=saved_views_template(cfg))
    await create_index(client, saved_views_index(cfg))


def team_of(principal: Principal) -> str:
    return principal.agency or SOC_AGENCY


def _visible(principal: Principal) -> dict[str, Any]:
    """Within the caller's team only: their own, and the team's shared ones."""
    return {
        "bool": {
            "filter": [{"term": {"team": team_of(principal)}}],
            "should": [{"term": {"owner": principal.username}}, {"term": {"shared": True}}],
            "minimum_should_match": 1,
        }
    }


async def list_views(client: AsyncOpenSearch, cfg: OpenSearchConfig, principal: Principal) -> list[dict[str, Any]]:
    body = {"size": MAX_LISTED, "query": _visible(principal), "sort": [{"name": {"order": "asc"}}]}
    result = await run_search(client, saved_views_index(cfg), body)
    return [h["_source"] for h in result["hits"]["hits"]]


async def create_view(
    client: AsyncOpenSearch, cfg: OpenSearchConfig, principal: Principal, body: SavedViewCreate
) -> dict[str, Any]:
    index = Index(client, saved_views_index(cfg))
    if await index.count({"term": {"owner": principal.username}}) >= MAX_PER_OWNER:
        raise InvalidRequest(f"too many saved views: at most {MAX_PER_OWNER} each; delete some first")
    doc = body.model_dump(mode="json", exclude_none=False) | {
        "id": new_id(),
        "owner": principal.username,
        "team": team_of(principal),
        "created_at": iso(datetime.now(UTC)),
    }
    await index.put(doc["id"], doc, create=True, refresh="wait_for")
    return doc


async def delete_view(
    client: AsyncOpenSearch, cfg: OpenSearchConfig, principal: Principal, view_id: str
) -> dict[str, Any]:
    """The owner deletes a saved view, or an admin of the same team a shared one."""
    index = Index(client, saved_views_index(cfg))
    doc = await index.find(view_id)
    missing = f"no saved view {view_id}"
    if doc is None or doc.get("team") != team_of(principal):
        raise NotFound(missing)
    if doc.get("owner") != principal.username:
        if not doc.get("shared"):
            raise NotFound(missing)
        if principal.role != "admin":
            raise PermissionDenied("only its owner (or an admin) may delete a saved view")
    await index.delete(view_id, refresh="wait_for")
    return doc
