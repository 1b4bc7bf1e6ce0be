"""The metrics listener caps connections like every other listener (no backend needed): a
connection over `max_connections` is closed at once, and the listener keeps answering."""

from __future__ import annotations

import asyncio

import httpx
from canhgac.core.config import ListenerConfig, MetricsListenerConfig
from canhgac.core.metrics import Metrics

from canhgac.ops_listener import OpsListener


async def test_connections_over_the_cap_are_closed() -> None:
    cfg = MetricsListenerConfig(port=0, listener=ListenerConfig(max_connections=2, header_timeout_secs=30))
    metrics = Metrics()
    listener = OpsListener(cfg, metrics, lambda: None)
    await listener.start()
    idle: list[asyncio.StreamWriter] = []
    try:
        for _ in range(2):  # hold both slots with connections that send nothing
            _reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
            idle.append(writer)
        await asyncio.sleep(0.2)
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed without an answer
        writer.close()
        refused = metrics.registry.get_sample_value(
            "canhgac_events_dropped_total", {"stage": "metrics-listener", "reason": "too_many_connections"}
        )
        assert refused == 1
        for held in idle:
            held.close()
        await asyncio.sleep(0.2)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{listener.port}") as client:
            assert (await client.get("/healthz")).status_code == 200
    finally:
        for held in idle:
            held.close()
        await listener.stop()
