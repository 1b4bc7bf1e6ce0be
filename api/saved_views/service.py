from __future__ import annotations

from typing import Any

from canhgac.api import team_items
from canhgac.api.auth.models import Principal
from canhgac.api.saved_views.models import SavedViewCreate
from canhgac.core.config import OpenSearchConfig
from canhgac.core.index import create_index, translated
from opensearchpy import AsyncOpenSearch

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


async def list_views(client: AsyncOpenSearch, cfg: OpenSearchConfig, principal: Principal) -> list[dict[str, Any]]:
    return await team_items.list_items(client, saved_views_index(cfg), principal)


async def create_view(
    client: AsyncOpenSearch, cfg: OpenSearchConfig, principal: Principal, body: SavedViewCreate
) -> dict[str, Any]:
    fields = body.model_dump(mode="json", exclude_none=False)
    index = saved_views_index(cfg)
    return await team_items.create_item(
        client, index, principal, fields, noun="saved view", max_per_owner=MAX_PER_OWNER
    )


async def delete_view(
    client: AsyncOpenSearch, cfg: OpenSearchConfig, principal: Principal, view_id: str
) -> dict[str, Any]:
    """The owner deletes a saved view, or an admin of the same team a shared one."""
    return await team_items.delete_item(client, saved_views_index(cfg), principal, view_id, noun="saved view")
