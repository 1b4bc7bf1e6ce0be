"""A shipper that retries a batch whose answer it never got (the collector crashed after Kafka had
the records) must not store the batch twice.

The retry is recognised by what the shipper sends to say "same batch": the document `_id` of a
`_bulk` action line (Fluent Bit `Generate_ID On`, Vector `id_key`, Filebeat's `fingerprint` into
`@metadata._id`: Elasticsearch's own idempotency), or an `Idempotency-Key` header on the native
endpoint. The raw ids derive from it, so the second copy is the same record and the index keeps
one document. Without either, a retried batch is stored twice (documented in docs/ingest.md).
"""

from __future__ import annotations

import asyncio
import hashlib

import httpx
import orjson
import pytest
from canhgac.core.config import SourceConfig
from canhgac.core.store import make_client

from canhgac.runtime import Runtime
from tests.conftest import eventually

pytestmark = pytest.mark.integration
KEY = "k-" + "r" * 40
N = 40


def http_settings(test_settings):  # type: ignore[no-untyped-def]
    source = SourceConfig(
        id="portal-http", agency="portal-op", format="json", ingest_key_sha256=hashlib.sha256(KEY.encode()).hexdigest()
    )
    c = test_settings.collectors
    collectors = c.model_copy(
        update={
            "syslog_tcp": c.syslog_tcp.model_copy(update={"enabled": False}),
            "http": c.http.model_copy(update={"enabled": True, "port": 0}),
        }
    )
    return test_settings.model_copy(update={"sources": (source,), "collectors": collectors})


async def stored_messages(settings) -> list[str]:  # type: ignore[no-untyped-def]
    client = make_client(settings.opensearch, component="admin")
    index = f"{settings.opensearch.index_prefix}.*"
    try:
        await client.indices.refresh(index=index, allow_no_indices=True)
        found = await client.search(index=index, body={"size": 1000, "_source": ["message"]}, allow_no_indices=True)
        return [h["_source"].get("message", "") for h in found["hits"]["hits"]]
    finally:
        await client.close()


async def test_a_retried_batch_is_stored_once(test_settings) -> None:
    settings = http_settings(test_settings)
    runtime = Runtime(settings, stages=("normalizer", "indexer"), api=False)
    task = asyncio.create_task(runtime.run())
    await asyncio.wait_for(runtime.started.wait(), 120)
    try:
        (collector,) = runtime.collectors
        bulk = b"".join(
            orjson.dumps({"create": {"_index": "logs", "_id": f"fb-{i:04d}"}})
            + b"\n"
            + orjson.dumps({"message": f"bulk retried seq={i}", "@timestamp": "2026-12-06T03:00:00Z"})
            + b"\n"
            for i in range(N)
        )
        native = b"".join(orjson.dumps({"message": f"native retried seq={i}"}) + b"\n" for i in range(N))
        auth = {"Authorization": f"Bearer {KEY}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{collector.port}", timeout=30) as http:
            for _attempt in range(2):  # the first answer "got lost": the shipper sends the batch again
                answer = await http.post(
                    "/_bulk", content=bulk, headers={**auth, "Content-Type": "application/x-ndjson"}
                )
                assert answer.status_code == 200 and not answer.json()["errors"]
                assert [i["create"]["_id"] for i in answer.json()["items"]] == [f"fb-{i:04d}" for i in range(N)]
                headers = {**auth, "Content-Type": "application/x-ndjson", "Idempotency-Key": "batch-7f3a"}
                answer = await http.post("/ingest/v1/portal-http", content=native, headers=headers)
                assert answer.status_code == 200, answer.text

        async def both_stored() -> list[str] | None:
            messages = await stored_messages(settings)
            return messages if len(messages) >= 2 * N else None

        await eventually(both_stored, timeout_secs=90)
        await asyncio.sleep(2)  # the retried copies, if they were new documents, would be there by now
        messages = await stored_messages(settings)
    finally:
        runtime.request_stop()
        await asyncio.wait_for(task, 60)
    assert sorted(m for m in messages if m.startswith("bulk")) == sorted(f"bulk retried seq={i}" for i in range(N))
    assert sorted(m for m in messages if m.startswith("native")) == sorted(f"native retried seq={i}" for i in range(N))
