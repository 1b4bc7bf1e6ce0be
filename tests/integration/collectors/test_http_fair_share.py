"""Issue 10 finding 7 (HTTP ingest), on the real Kafka: a record cap per request (a 76-byte gzip
body was 20,000 records), and a fair share per source (one sender's slow bodies took every slot and
everyone else got 429), with slow bodies cut off by the body timeout."""

from __future__ import annotations

import asyncio
import gzip
import hashlib

import httpx
import pytest
from canhgac.collectors.registry import build_collectors
from canhgac.core.config import SourceConfig
from canhgac.core.kafka import ensure_topics
from canhgac.core.metrics import Metrics

from tests.integration.collectors.helpers import read_raw

pytestmark = pytest.mark.integration
KEY_A, KEY_B = "k-" + "a" * 40, "k-" + "b" * 40
PER_SOURCE = 2


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@pytest.fixture
async def http(test_settings):  # type: ignore[no-untyped-def]
    sources = (
        SourceConfig(id="portal", agency="so-tttt", ingest_key_sha256=sha(KEY_A)),
        SourceConfig(id="motcua", agency="vp-ubnd", ingest_key_sha256=sha(KEY_B)),
    )
    http_cfg = test_settings.collectors.http.model_copy(
        update={
            "enabled": True,
            "port": 0,
            "max_records_per_request": 1000,
            "max_concurrent_requests": 4,
            "max_concurrent_requests_per_source": PER_SOURCE,
            "body_timeout_secs": 2.0,
        }
    )
    settings = test_settings.model_copy(
        update={
            "sources": sources,
            "collectors": test_settings.collectors.model_copy(
                update={
                    "syslog_tcp": test_settings.collectors.syslog_tcp.model_copy(update={"enabled": False}),
                    "http": http_cfg,
                }
            ),
        }
    )
    await ensure_topics(settings.kafka)
    (collector,) = build_collectors(settings, None, Metrics())
    await collector.start()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{collector.port}", timeout=30) as client:
        yield settings, client, collector
    await collector.stop()


async def test_records_per_request_are_capped(http) -> None:  # type: ignore[no-untyped-def]
    settings, client, _ = http
    bearer = {"Authorization": f"Bearer {KEY_A}"}
    bomb = gzip.compress(b"a\n" * 20_000)
    assert len(bomb) < 200
    r = await client.post(
        "/ingest/v1/portal", content=bomb, headers={**bearer, "Content-Type": "text/plain", "Content-Encoding": "gzip"}
    )
    assert r.status_code == 413
    assert "at most 1000" in r.json()["error"]
    r = await client.post("/ingest/v1/portal", json=[{"n": i} for i in range(1001)], headers=bearer)
    assert r.status_code == 413
    bulk = b'{"index": {"_index": "x"}}\n{"n": 1}\n' * 1001
    r = await client.post("/_bulk", content=bulk, headers={**bearer, "Content-Type": "application/x-ndjson"})
    assert r.status_code == 413
    # at the cap: accepted
    r = await client.post("/ingest/v1/portal", json=[{"n": i} for i in range(1000)], headers=bearer)
    assert r.status_code == 200 and r.json() == {"accepted": 1000}
    raw = await read_raw(settings, 1000, timeout_secs=30)
    assert len(raw) == 1000


async def slow_request(port: int, key: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A request whose head arrives whole but whose body stops after a few bytes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"POST /ingest/v1/portal HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
        "Content-Type: text/plain\r\nContent-Length: 100000\r\n\r\nfirst bytes".encode()
    )
    await writer.drain()
    return reader, writer


async def test_a_slow_source_holds_only_its_share(http) -> None:  # type: ignore[no-untyped-def]
    _settings, client, collector = http
    slow = [await slow_request(collector.port, KEY_A) for _ in range(PER_SOURCE)]
    try:
        await asyncio.sleep(0.5)  # let the server take them in
        same = await client.post("/ingest/v1/portal", content=b"x", headers={"Authorization": f"Bearer {KEY_A}"})
        assert same.status_code == 429
        assert same.json()["reason"] == "source_busy" and same.headers["Retry-After"]
        other = await client.post("/ingest/v1/motcua", content=b"y", headers={"Authorization": f"Bearer {KEY_B}"})
        assert other.status_code == 200
        # the slow bodies are cut off (408), which frees the source's slots
        for reader, _ in slow:
            status = await asyncio.wait_for(reader.readline(), 60)
            assert status.startswith(b"HTTP/1.1 408"), status
        again = await client.post("/ingest/v1/portal", content=b"z", headers={"Authorization": f"Bearer {KEY_A}"})
        assert again.status_code == 200
    finally:
        for _, writer in slow:
            writer.close()
