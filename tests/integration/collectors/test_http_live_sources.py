"""Issue 12: the HTTP collector follows API-declared sources being disabled, enabled and deleted,
without a restart: a disabled source's key gets 403 `source_disabled` (the shipper keeps its data and
retries, as Splunk HEC answers a disabled token), a deleted source's key 401 like any unknown key."""

from __future__ import annotations

import httpx
import pytest
from canhgac.api.indices import ensure_api_indices
from canhgac.api.sources.models import SourceCreate, SourceUpdate
from canhgac.api.sources.service import create_source, delete_source, update_source
from canhgac.collectors.registry import build_collectors
from canhgac.core.kafka import ensure_topics
from canhgac.core.metrics import Metrics
from canhgac.core.store import make_client

from tests.conftest import eventually
from tests.integration.api.conftest import cleanup

pytestmark = pytest.mark.integration


async def test_disabled_source_refused_then_enabled_then_deleted(test_settings) -> None:  # type: ignore[no-untyped-def]
    settings = test_settings.model_copy(
        update={
            "collectors": test_settings.collectors.model_copy(
                update={
                    "syslog_tcp": test_settings.collectors.syslog_tcp.model_copy(update={"enabled": False}),
                    "http": test_settings.collectors.http.model_copy(
                        update={"enabled": True, "port": 0, "api_sources_refresh_secs": 0.2}
                    ),
                }
            ),
        }
    )
    await ensure_topics(settings.kafka)
    client = make_client(settings.opensearch, component="admin")
    await ensure_api_indices(client, settings.opensearch)
    metrics = Metrics()
    (collector,) = build_collectors(settings, None, metrics)
    await collector.start()
    try:
        _, key = await create_source(client, settings, SourceCreate(id="portal-live", agency="so-tttt"), by="admin")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{collector.port}", timeout=30) as http:

            async def answer() -> tuple[int, str]:
                r = await http.post(
                    "/ingest/v1/portal-live", json={"msg": "hello"}, headers={"Authorization": f"Bearer {key}"}
                )
                return r.status_code, r.text

            async def gives(status: int) -> tuple[int, str] | None:
                got = await answer()
                return got if got[0] == status else None

            await eventually(lambda: gives(200), timeout_secs=10, interval_secs=0.2)
            await update_source(client, settings, "portal-live", SourceUpdate(enabled=False), by="admin")
            _, body = await eventually(lambda: gives(403), timeout_secs=10, interval_secs=0.2)
            assert "source_disabled" in body
            assert metrics.dropped.labels("http", "source_disabled")._value.get() >= 1
            await update_source(client, settings, "portal-live", SourceUpdate(enabled=True), by="admin")
            await eventually(lambda: gives(200), timeout_secs=10, interval_secs=0.2)
            await delete_source(client, settings, "portal-live")
            await eventually(lambda: gives(401), timeout_secs=10, interval_secs=0.2)
    finally:
        await collector.stop()
        await client.close()
        await cleanup(settings)
