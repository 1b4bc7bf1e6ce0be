"""Issue 10 finding 5: half-open connections cannot hold the API or the HTTP ingest listener.

Many connections from one address each send half a request head and stop. Each listener must
still answer a normal request from another address (127.0.0.2: the per-address cap is what the
flood hits), close the connections over its caps at once, and close the admitted half-open ones
when their head timeout passes: every connection of the flood ends closed by the server. Before
the fix they were all held open for as long as the client liked.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from canhgac.core.config import ListenerConfig

from canhgac.runtime import Runtime
from tests.conftest import free_port

pytestmark = pytest.mark.integration

FLOOD = 120
PER_ADDRESS = 40
HEAD_TIMEOUT_SECS = 1.0
WAIT_FOR_CLOSE_SECS = 60.0  # far beyond the head timeout: a held connection fails the test


async def half_open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: canhgac\r\nContent-Type: applic")
    await writer.drain()
    return reader, writer


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    try:
        rest = await asyncio.wait_for(reader.read(), WAIT_FOR_CLOSE_SECS)
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False
    return b"HTTP/1.1 2" not in rest  # closed (possibly after an error status), never served


async def normal_request(port: int, path: str) -> bytes:
    """A whole request from another loopback address; the status line of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.2", 0))
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: canhgac\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        return (await asyncio.wait_for(reader.readline(), 30)).strip()
    finally:
        writer.close()


async def flood_and_check(port: int, path: str) -> None:
    conns = [await half_open(port) for _ in range(FLOOD)]
    try:
        status = await normal_request(port, path)
        assert status.startswith(b"HTTP/1.1 "), status
        closed = await asyncio.gather(*(closed_by_server(reader) for reader, _ in conns))
        assert all(closed), f"{closed.count(False)} of {FLOOD} half-open connections still held"
        # a request head larger than max_header_bytes is not buffered: the connection is closed
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.2", 0))
        writer.write(b"GET / HTTP/1.1\r\nHost: canhgac\r\nX-Padding: " + b"a" * 200_000)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        assert await closed_by_server(reader)
        writer.close()
        # and the listener still answers afterwards, from the flooding address too
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: canhgac\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        assert (await asyncio.wait_for(reader.readline(), 30)).startswith(b"HTTP/1.1 ")
        writer.close()
    finally:
        for _, writer in conns:
            with contextlib.suppress(Exception):
                writer.close()


async def test_half_open_connections_are_capped_and_closed(test_settings) -> None:  # type: ignore[no-untyped-def]
    listener = ListenerConfig(
        header_timeout_secs=HEAD_TIMEOUT_SECS, max_connections_per_address=PER_ADDRESS, max_connections=1000
    )
    ingest_port = free_port()
    settings = test_settings.model_copy(
        update={
            "api": test_settings.api.model_copy(update={"listener": listener}),
            "collectors": test_settings.collectors.model_copy(
                update={
                    "http": test_settings.collectors.http.model_copy(
                        update={"enabled": True, "port": ingest_port, "listener": listener}
                    )
                }
            ),
        }
    )
    runtime = Runtime(settings, stages=())
    task = asyncio.create_task(runtime.run())
    await asyncio.wait_for(runtime.started.wait(), 120)
    try:
        await flood_and_check(settings.api.port, "/healthz")
        await flood_and_check(ingest_port, "/")
        dropped = {
            (s.labels["stage"], s.labels["reason"]): s.value
            for metric in runtime.metrics.dropped.collect()
            for s in metric.samples
            if s.name.endswith("_total")
        }
        for name in ("api", "http"):
            assert dropped.get((name, "too_many_connections_from_address"), 0) >= FLOOD - PER_ADDRESS
            assert dropped.get((name, "header_timeout"), 0) >= 1
    finally:
        runtime.request_stop()
        await asyncio.wait_for(task, 60)
