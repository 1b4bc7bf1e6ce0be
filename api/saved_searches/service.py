from __future__ import annotations

from typing import Any

from canhgac.api import team_items
from canhgac.api.auth.models import Principal
from canhgac.api.query_guard import check_lucene
from canhgac.api.saved_searches.models import SavedSearchCreate
from canhgac.api.search import require_zone
from canhgac.core.alert import iso
from canhgac.core.config import OpenSearchConfig, Settings
from canhgac.core.errors import InvalidRequest
from opensearchpy import AsyncOpenSearch

MAX_PER_OWNER = 200


def saved_searches_index(cfg: OpenSearchConfig) -> str:
    return f"{cfg.config_index_prefix}-saved-searches"


async def list_saved(client: AsyncOpenSearch, cfg: OpenSearchConfig, principal: Principal) -> list[dict[str, Any]]:
    return await team_items.list_items(client, saved_searches_index(cfg), principal)


async def create_saved(
    client: AsyncOpenSearch, settings: Settings, principal: Principal, body: SavedSearchCreate
) -> dict[str, Any]:
    require_zone(body.start, body.end)
    if body.start and body.end and body.start > body.end:
        raise InvalidRequest("start is after end")
    if body.query.strip() not in ("", "*"):
        check_lucene(body.query, settings.api.max_query_chars)  # never store what search would refuse
    fields = body.model_dump(mode="json") | {
        # Stored in UTC (as every time); `zone` says where the analyst picked it.
        "start": iso(body.start) if body.start else None,
        "end": iso(body.end) if body.end else None,
    }
    index = saved_searches_index(settings.opensearch)
    return await team_items.create_item(
        client, index, principal, fields, noun="saved search", max_per_owner=MAX_PER_OWNER
    )


async def delete_saved(
    client: AsyncOpenSearch, cfg: OpenSearchConfig, principal: Principal, search_id: str
) -> dict[str, Any]:
    """The owner deletes a saved search, or an admin of the same team a shared one."""
    return await team_items.delete_item(client, saved_searches_index(cfg), principal, search_id, noun="saved search")
