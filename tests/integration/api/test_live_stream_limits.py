"""Live alert streams (issue 10, finding 8): a cap on open streams per user, and an open stream that
re-checks its session, so a disabled user's stream ends instead of receiving alerts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
import uvicorn

from tests.conftest import free_port
from tests.integration.api.conftest import AGENCY_A, Api, make_alert

pytestmark = pytest.mark.integration


@pytest.fixture
def api_settings(test_settings):  # type: ignore[no-untyped-def]
    api = test_settings.api.model_copy(
        update={"stream_poll_secs": 0.2, "login_max_failures": 3, "max_streams_per_user": 2, "stream_recheck_secs": 0.5}
    )
    return test_settings.model_copy(update={"api": api})


@contextlib.asynccontextmanager
async def served(api: Api) -> AsyncIterator[str]:
    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):  # type: ignore[no-untyped-def]
            yield

    port = free_port()
    config = uvicorn.Config(
        api.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
    )
    server = Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


OPEN_READERS: list[object] = []  # a reader dropped mid-stream is closed by the GC, and its stream with it


async def open_stream(client: httpx.AsyncClient, stack: contextlib.AsyncExitStack) -> httpx.Response:
    resp = await stack.enter_async_context(client.stream("GET", "/api/v1/alerts/stream"))
    if resp.status_code == 200:
        lines = resp.aiter_lines()
        OPEN_READERS.append(lines)
        while not (await anext(lines)).startswith("event: ready"):
            pass
    return resp


async def test_live_streams_per_user_are_capped(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.tokens['viewer']}"}
    async with served(api) as url, httpx.AsyncClient(base_url=url, headers=headers, timeout=20) as client:
        async with contextlib.AsyncExitStack() as first_two:
            assert (await open_stream(client, first_two)).status_code == 200
            assert (await open_stream(client, first_two)).status_code == 200
            async with contextlib.AsyncExitStack() as third:
                refused = await open_stream(client, third)
                assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
            other = {"Authorization": f"Bearer {api.tokens['analyst']}"}
            async with contextlib.AsyncExitStack() as someone_else:
                resp = await someone_else.enter_async_context(
                    client.stream("GET", "/api/v1/alerts/stream", headers=other)
                )
                assert resp.status_code == 200  # the cap is per user
        await asyncio.sleep(0.5)  # the two closed streams give their slots back
        async with contextlib.AsyncExitStack() as again:
            assert (await open_stream(client, again)).status_code == 200


async def test_disabled_users_open_stream_ends_and_receives_nothing_more(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.tokens['viewer']}"}
    os_client = api.app.state.canhgac.opensearch
    index = api.settings.opensearch.alerts_index
    async with served(api) as url, httpx.AsyncClient(base_url=url, headers=headers, timeout=20) as client:
        async with client.stream("GET", "/api/v1/alerts/stream") as resp:
            assert resp.status_code == 200
            lines = resp.aiter_lines()
            while not (await anext(lines)).startswith("event: ready"):
                pass
            async with api.client("admin") as admin:
                disabled = await admin.patch("/api/v1/users/viewer", json={"disabled": True})
                assert disabled.status_code == 200
            now = datetime.now(UTC)
            await os_client.index(
                index=index, id="after-disable", body=make_alert("after-disable", AGENCY_A, [], now), refresh=True
            )

            async def rest() -> list[str]:
                return [line async for line in lines]

            remaining = await asyncio.wait_for(rest(), 15)  # the stream ends on its own
    assert not any("after-disable" in line for line in remaining)
    assert any(line.startswith("event: ended") for line in remaining)
