"""Issue 12: retention follows the sources declared through the API. A running process keeps an
API-declared source's events by that source's security level, and an edit of the level applies at
the next retention pass, no restart (before, such a source always had the default level)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from canhgac.api.indices import ensure_api_indices
from canhgac.api.sources import service
from canhgac.api.sources.models import SourceCreate, SourceUpdate
from canhgac.core.config import RetentionConfig
from canhgac.core.store import ensure_templates, events_index, make_client

from canhgac.runtime import Runtime
from tests.conftest import eventually
from tests.integration.api.conftest import cleanup

pytestmark = pytest.mark.integration


async def test_retention_uses_the_live_security_level_of_api_declared_sources(test_settings) -> None:
    retention = RetentionConfig(interval_secs=0.5, days_by_level={1: 30, 2: 90, 3: 365, 4: 730, 5: 1095})
    settings = test_settings.model_copy(update={"sources_refresh_secs": 0.5, "retention": retention})
    cfg = settings.opensearch
    client = make_client(cfg, component="admin")
    runtime: Runtime | None = None
    task = None
    try:
        await ensure_templates(client, cfg)
        await ensure_api_indices(client, cfg)
        await service.create_source(
            client, settings, SourceCreate(id="api-l3", agency="so-yte", security_level=3), by="test"
        )
        index = events_index(cfg.index_prefix, "syslog")
        now = datetime.now(UTC)
        for doc_id, days in (("api-old", 40), ("api-new", 10)):
            await client.index(
                index=index,
                id=doc_id,
                op_type="create",
                refresh=True,
                body={
                    "@timestamp": (now - timedelta(days=days)).isoformat(),
                    "event": {"id": doc_id},
                    "canhgac": {"source_id": "api-l3"},
                },
            )
        runtime = Runtime(settings, stages=("indexer",), api=False, collectors=False)
        task = asyncio.create_task(runtime.run())
        await asyncio.wait_for(runtime.started.wait(), 120)

        async def left() -> list[str]:
            await client.indices.refresh(index=index)
            found = await client.search(index=index, body={"size": 20, "query": {"match_all": {}}})
            return sorted(h["_id"] for h in found["hits"]["hits"])

        await asyncio.sleep(2)  # several passes at level 3 (365 days): both kept
        assert await left() == ["api-new", "api-old"]

        await service.update_source(client, settings, "api-l3", SourceUpdate(security_level=1), by="test")

        async def only_new() -> bool:
            return await left() == ["api-new"]

        await eventually(only_new, timeout_secs=30)
    finally:
        if runtime is not None and task is not None:
            runtime.request_stop()
            await asyncio.wait_for(task, 60)
        await client.close()
        await cleanup(settings)
