"""Which address the API believes a request came from (issue 10, finding 7): X-Forwarded-For is
believed only from `api.trusted_proxies`, through the real server the runtime starts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration


async def running_api(settings: Any) -> AsyncIterator[tuple[str, Any]]:
    """The API as `canhgac run` serves it; yields its URL and its OpenSearch client."""
    from canhgac.runtime import Runtime

    runtime = Runtime(settings, stages=(), collectors=False, api=True)
    task = asyncio.create_task(runtime.run())
    started = asyncio.create_task(runtime.started.wait())
    await asyncio.wait({task, started}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    assert runtime.started.is_set(), task.exception() if task.done() else "API did not start"
    try:
        assert runtime.api_server is not None
        yield f"http://127.0.0.1:{settings.api.port}", runtime.api_server.config.app.state.canhgac.opensearch
    finally:
        runtime.request_stop()
        await asyncio.wait_for(task, 30)


async def failed_login_addresses(
    settings: Any, base_url: str, client: Any, forwarded_for: str, username: str
) -> list[str]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as c:
        resp = await c.post(
            "/api/v1/auth/login",
            json={"username": username, "password": "wrong password"},
            headers={"X-Forwarded-For": forwarded_for, "X-Forwarded-Proto": "https"},
        )
        assert resp.status_code == 401
    await client.indices.refresh(index=settings.opensearch.audit_index)
    found = await client.search(
        index=settings.opensearch.audit_index, body={"query": {"term": {"target.id": username}}, "size": 10}
    )
    return [h["_source"]["client"]["ip"] for h in found["hits"]["hits"]]


@pytest.fixture
async def cleanup_indices(test_settings):  # type: ignore[no-untyped-def]
    yield
    from tests.integration.api.conftest import cleanup

    await cleanup(test_settings)


async def test_forwarded_for_from_loopback_is_ignored_without_trusted_proxies(test_settings, cleanup_indices) -> None:  # type: ignore[no-untyped-def]
    async for base_url, client in running_api(test_settings):
        addresses = await failed_login_addresses(test_settings, base_url, client, "198.51.100.7", "nobody-spoof")
    assert addresses == ["127.0.0.1"]  # the audit log names the real peer, not the header's claim


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(test_settings, cleanup_indices) -> None:  # type: ignore[no-untyped-def]
    api = test_settings.api.model_copy(update={"trusted_proxies": ("127.0.0.0/8",)})
    settings = test_settings.model_copy(update={"api": api})
    async for base_url, client in running_api(settings):
        # The client said "10.9.9.9" itself; the proxy appended the address it saw: the right-most
        # address that is not a trusted proxy is the client.
        addresses = await failed_login_addresses(settings, base_url, client, "10.9.9.9, 198.51.100.8", "nobody-proxied")
    assert addresses == ["198.51.100.8"]
