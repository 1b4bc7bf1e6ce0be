"""A declared source that goes quiet raises a "source silent" alert, cleared when it resumes;
its health snapshot is in OpenSearch."""

from __future__ import annotations

import asyncio

import pytest
from canhgac.core.config import SourceConfig
from canhgac.core.store import make_client
from canhgac.pipeline.source_health import SILENT_RULE_ID

from canhgac.demo_feed import send_lines
from canhgac.runtime import Runtime
from tests.conftest import eventually

pytestmark = pytest.mark.integration


async def test_silent_source_alert_raised_and_cleared(test_settings) -> None:
    source = SourceConfig(
        id="fw-quiet", agency="so-tttt", allowed_addresses=("127.0.0.1/32",), expected_interval_secs=3
    )
    settings = test_settings.model_copy(update={"sources": (source,)})
    runtime = Runtime(settings, stages=("normalizer", "alert-indexer", "source-health"), api=False)
    task = asyncio.create_task(runtime.run())
    await asyncio.wait_for(runtime.started.wait(), 120)
    client = make_client(settings.opensearch, component="admin")
    try:
        assert runtime.collector is not None and runtime.collector.port
        await send_lines("127.0.0.1", runtime.collector.port, ["<14>Nov 26 09:00:00 fw1 kernel: hello"])

        async def silent_alert() -> dict | None:
            await client.indices.refresh(index=settings.opensearch.alerts_index)
            found = await client.search(
                index=settings.opensearch.alerts_index, body={"query": {"term": {"rule.id": SILENT_RULE_ID}}}
            )
            hits = found["hits"]["hits"]
            return hits[0]["_source"] if hits else None

        alert = await eventually(silent_alert, timeout_secs=60)
        assert alert["canhgac"]["source_id"] == "fw-quiet" and alert["cleared_at"] is None
        health = await client.get(index=settings.opensearch.sources_index, id="fw-quiet")
        assert health["_source"]["silent"] is True and health["_source"]["events_total"] == 1

        await send_lines("127.0.0.1", runtime.collector.port, ["<14>Nov 26 09:00:09 fw1 kernel: back"])

        async def cleared() -> dict | None:
            a = await silent_alert()
            return a if a and a.get("cleared_at") else None

        done = await eventually(cleared, timeout_secs=60)
        assert done["id"] == alert["id"] and done["count"] == 2
    finally:
        await client.close()
        runtime.request_stop()
        await asyncio.wait_for(task, 60)
