"""Issue 12: source health follows the sources declared through the API. An API-declared source
with an expected interval that goes quiet raises the "source silent" alert (it never fired before:
the stage knew only the settings file's sources); a disabled source is expected to be quiet."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from canhgac.api.indices import ensure_api_indices
from canhgac.api.sources import service
from canhgac.api.sources.models import SourceCreate, SourceUpdate
from canhgac.core.store import make_client
from canhgac.pipeline.source_health import SILENT_RULE_ID, SourceHealthStage

from canhgac.demo_feed import send_lines
from canhgac.runtime import Runtime
from tests.conftest import eventually
from tests.integration.api.conftest import cleanup

pytestmark = pytest.mark.integration

SENDER = "127.0.0.24"


async def test_api_declared_source_going_silent_raises_the_alert(test_settings) -> None:
    settings = test_settings.model_copy(update={"sources_refresh_secs": 0.5})
    runtime = Runtime(settings, stages=("normalizer", "alert-indexer", "source-health"), api=False)
    task = asyncio.create_task(runtime.run())
    await asyncio.wait_for(runtime.started.wait(), 120)
    # Silences are checked every 5 s (the stage's default); every 0.5 s here, so each of the three
    # waits below ends soon after the interval has passed instead of up to 5 s later.
    health = next(stage for stage in runtime.stages if stage.name == SourceHealthStage.name)
    assert isinstance(health, SourceHealthStage)
    health.check_interval_secs = 0.5
    client = make_client(settings.opensearch, component="admin")
    cfg = settings.opensearch
    try:
        await ensure_api_indices(client, cfg)
        for source_id, enabled in (("api-quiet", True), ("api-off", False)):
            await service.create_source(
                client,
                settings,
                SourceCreate(
                    id=source_id,
                    agency="so-yte",
                    allowed_addresses=[SENDER] if enabled else [],
                    expected_interval_secs=3,
                    enabled=enabled,
                ),
                by="test",
            )
        assert runtime.collector is not None and runtime.collector.port
        await send_lines(
            "127.0.0.1", runtime.collector.port, ["<14>Dec  6 09:00:00 fw1 kernel: hello"], local_address=SENDER
        )

        async def silent_alerts() -> dict[str, dict[str, Any]]:
            await client.indices.refresh(index=cfg.alerts_index, ignore_unavailable=True)
            found = await client.search(
                index=cfg.alerts_index,
                body={"query": {"term": {"rule.id": SILENT_RULE_ID}}},
                ignore_unavailable=True,
            )
            return {h["_source"]["canhgac"]["source_id"]: h["_source"] for h in found["hits"]["hits"]}

        alerts = await eventually(lambda: _with(silent_alerts, "api-quiet"), timeout_secs=60)
        alert = alerts["api-quiet"]
        assert alert["agency"] == "so-yte" and alert["cleared_at"] is None
        assert "api-off" not in alerts  # disabled: quiet is expected
        health = await client.get(index=cfg.sources_index, id="api-quiet")
        assert health["_source"]["expected_interval_secs"] == 3 and health["_source"]["events_total"] == 1

        # Deleted: no longer tracked as declared (no expected interval, no new silence alerts).
        await service.delete_source(client, settings, "api-quiet")

        async def forgotten() -> bool:
            await client.indices.refresh(index=cfg.sources_index)
            doc = await client.get(index=cfg.sources_index, id="api-quiet")
            return doc["_source"]["expected_interval_secs"] is None

        await eventually(forgotten, timeout_secs=30)
        # An edit: a longer interval for the disabled source, then enabled: it goes silent in turn.
        await service.update_source(client, settings, "api-off", SourceUpdate(enabled=True), by="test")
        alerts = await eventually(lambda: _with(silent_alerts, "api-off"), timeout_secs=60)
        assert alerts["api-off"]["agency"] == "so-yte"
    finally:
        await client.close()
        runtime.request_stop()
        await asyncio.wait_for(task, 60)
        await cleanup(settings)


async def _with(check, source_id: str):  # type: ignore[no-untyped-def]
    found = await check()
    return found if source_id in found else None
