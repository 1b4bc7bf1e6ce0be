"""A source declared through the API can send over HTTP with its key, and a rotated key replaces the
old one, without restarting the collector."""

from __future__ import annotations

import httpx
import pytest
from canhgac.api.indices import ensure_api_indices
from canhgac.api.sources.models import SourceCreate
from canhgac.api.sources.service import create_source, rotate_key
from canhgac.collectors.registry import build_collectors
from canhgac.core.kafka import ensure_topics
from canhgac.core.metrics import Metrics
from canhgac.core.store import make_client

from tests.conftest import eventually
from tests.integration.api.conftest import cleanup

pytestmark = pytest.mark.integration


async def test_declared_source_key_and_rotation(test_settings) -> None:  # type: ignore[no-untyped-def]
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
    (collector,) = build_collectors(settings, None, Metrics())
    await collector.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{collector.port}", timeout=30) as http:

            async def status(key: str) -> int:
                r = await http.post(
                    "/ingest/v1/motcua-web", json={"msg": "hello"}, headers={"Authorization": f"Bearer {key}"}
                )
                return r.status_code

            assert await status("k-" + "x" * 40) == 401
            _, first = await create_source(
                client, settings, SourceCreate(id="motcua-web", agency="so-tttt"), by="admin"
            )
            await eventually(lambda: _is(status(first), 200), timeout_secs=10, interval_secs=0.2)
            second, _ = await rotate_key(client, settings, "motcua-web")
            await eventually(lambda: _is(status(second), 200), timeout_secs=10, interval_secs=0.2)
            assert await status(first) == 401
    finally:
        await collector.stop()
        await client.close()
        await cleanup(settings)


async def _is(pending, want: int) -> bool:  # type: ignore[no-untyped-def]
    return await pending == want
