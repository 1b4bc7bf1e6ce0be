"""Kafka is killed (SIGKILL) in the middle of a stream of 40,000 events sent over HTTP ingest,
then restarted: every event whose request was acknowledged (2xx) is in OpenSearch exactly once,
and no event is there twice."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from collections import Counter

import httpx
import pytest
from canhgac.core.config import SourceConfig
from canhgac.core.store import make_client

from canhgac.runtime import Runtime
from tests.conftest import REPO, eventually, free_port

pytestmark = [pytest.mark.disruptive, pytest.mark.integration]
SERVICES = str(REPO / "deploy" / "local" / "services.sh")
KEY = "khoa-nhap-lieu-so-tttt-0123456789abcdef0123456789"
N_EVENTS, PER_REQUEST = 40_000, 500
KILL_AT, RESTART_AT = 24, 48  # of 80 requests: Kafka is down for the middle 30 %


def services(*args: str) -> None:
    subprocess.run([SERVICES, *args], check=True, timeout=300)


async def seqs_in_store(settings) -> Counter[int]:  # type: ignore[no-untyped-def]
    client = make_client(settings.opensearch, component="admin")
    index = f"{settings.opensearch.index_prefix}.*"
    seen: Counter[int] = Counter()
    try:
        await client.indices.refresh(index=index, allow_no_indices=True)
        body = {"size": 10_000, "_source": ["json.seq"], "sort": [{"event.id": "asc"}], "query": {"match_all": {}}}
        while True:
            page = await client.search(index=index, body=body, allow_no_indices=True)
            hits = page["hits"]["hits"]
            seen.update(int(h["_source"]["json"]["seq"]) for h in hits)
            if len(hits) < 10_000:
                return seen
            body["search_after"] = hits[-1]["sort"]
    finally:
        await client.close()


async def test_acknowledged_events_survive_a_kafka_kill(test_settings, tmp_path) -> None:
    http_port = free_port()
    source = SourceConfig(
        id="motcua-http", agency="so-tttt", format="json", ingest_key_sha256=hashlib.sha256(KEY.encode()).hexdigest()
    )
    collectors = test_settings.collectors.model_copy(
        update={
            "http": test_settings.collectors.http.model_copy(update={"enabled": True, "port": http_port}),
        }
    )
    settings = test_settings.model_copy(
        update={"sources": (source,), "collectors": collectors, "data_dir": str(tmp_path / "var")}
    )
    runtime = Runtime(settings, stages=("normalizer", "indexer"), api=False)
    task = asyncio.create_task(runtime.run())
    await asyncio.wait_for(runtime.started.wait(), 120)
    acked: set[int] = set()
    killed = restarted = False
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{http_port}", timeout=60, headers={"Authorization": f"Bearer {KEY}"}
        ) as http:
            for batch in range(N_EVENTS // PER_REQUEST):
                if batch == KILL_AT and not killed:
                    await asyncio.to_thread(services, "kill-kafka")
                    killed = True
                if batch == RESTART_AT and not restarted:
                    await asyncio.to_thread(services, "start")
                    restarted = True
                seqs = range(batch * PER_REQUEST, (batch + 1) * PER_REQUEST)
                body = "\n".join(f'{{"seq": {s}, "message": "ho so {s} da cap nhat"}}' for s in seqs)
                try:
                    resp = await http.post(
                        "/ingest/v1/motcua-http", content=body, headers={"Content-Type": "application/x-ndjson"}
                    )
                except httpx.HTTPError:
                    continue  # no answer: not acknowledged, may or may not be stored (never twice)
                if 200 <= resp.status_code < 300:
                    acked.update(seqs)
        assert killed and restarted
        assert len(acked) >= N_EVENTS // 2, f"only {len(acked)} events acknowledged"

        async def all_acked_stored() -> Counter[int] | None:
            seen = await seqs_in_store(settings)
            return seen if acked <= set(seen) else None

        seen = await eventually(all_acked_stored, timeout_secs=300, interval_secs=3)
        await asyncio.sleep(3)
        seen = await seqs_in_store(settings)
        assert acked <= set(seen)
        duplicates = {s: c for s, c in seen.items() if c > 1}
        assert not duplicates, f"{len(duplicates)} events stored more than once"
    finally:
        if killed and not restarted:
            await asyncio.to_thread(services, "start")
        runtime.request_stop()
        await asyncio.wait_for(task, 120)
