"""A search over the events pattern while the indexer creates a new data stream (a dataset seen
for the first time) answers, instead of failing with OpenSearch's transient "all shards failed"
503 — the console's search page and every poll of the API must not break when a new dataset
arrives. Real OpenSearch: the race is between its shard allocation and our search."""

from __future__ import annotations

import asyncio

import pytest
from canhgac.core.errors import CanhgacError
from canhgac.core.index import Index
from canhgac.core.store import ensure_templates, events_index, make_client

pytestmark = pytest.mark.integration

NEW_STREAMS = 12  # on this machine one creation in about six met the 503 before the fix


async def test_searches_racing_new_data_streams_all_answer(test_settings) -> None:
    cfg = test_settings.opensearch
    writer = make_client(cfg, component="indexer")
    reader = make_client(cfg, component="api")
    failures: list[str] = []
    searches = 0
    try:
        await ensure_templates(writer, cfg)
        events = Index(reader, f"{cfg.index_prefix}.*")
        for n in range(NEW_STREAMS):
            created = asyncio.create_task(
                writer.index(
                    index=events_index(cfg.index_prefix, f"race{n}"),
                    body={"@timestamp": "2026-12-06T00:00:00Z", "message": f"first of dataset {n}"},
                    op_type="create",
                    refresh="wait_for",  # counted at the end
                )
            )
            while not created.done():
                searches += 1
                try:
                    await events.search({"query": {"match_all": {}}, "size": 1})
                except CanhgacError as exc:
                    failures.append(exc.message)
            await created
        assert searches > NEW_STREAMS  # the searches did run while the streams were being created
        assert failures == []
        found = await events.search({"query": {"match_all": {}}, "size": 0, "track_total_hits": True})
        assert found["hits"]["total"]["value"] == NEW_STREAMS
    finally:
        await writer.close()
        await reader.close()
