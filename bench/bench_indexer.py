"""Indexer throughput vs a bare OpenSearch client on the same node, in the same run.

  python bench/bench_indexer.py [--events 100000] [--batch 2000]

Baseline: serial `_bulk` requests of `--batch` create operations (pre-serialised NDJSON, the
fastest a single client loop gets). Ours: the IndexerStage consuming the same events from Kafka,
timed from start until every document is in OpenSearch and every offset committed.
Needs deploy/local/services.sh start. Prints events/s for both and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import subprocess
import time
import uuid

import orjson
from aiokafka import AIOKafkaProducer
from canhgac.core.config import Settings
from canhgac.core.kafka import ensure_topics
from canhgac.core.metrics import Metrics
from canhgac.core.store import ensure_templates, events_index, make_client
from canhgac.pipeline.indexer import IndexerStage


def make_events(n: int, run: str) -> list[dict]:
    events = []
    for i in range(n):
        events.append(
            {
                "@timestamp": f"2026-11-26T03:{i // 60 % 60:02d}:{i % 60:02d}.000Z",
                "message": f"Failed password for user{i % 50} from 203.0.113.{i % 250} port {40000 + i % 20000} ssh2",
                "event": {
                    "id": f"{run}-{i:08d}",
                    "kind": "event",
                    "category": ["authentication"],
                    "outcome": "failure",
                },
                "host": {"hostname": f"tthdl-app{i % 8:02d}"},
                "user": {"name": f"user{i % 50}"},
                "source": {"ip": f"203.0.113.{i % 250}", "port": 40000 + i % 20000},
                "process": {"name": "sshd", "pid": 1000 + i % 3000},
                "log": {"original": f"<38>Nov 26 10:00:00 tthdl-app01 sshd[1]: Failed password ... {i}"},
                "canhgac": {
                    "source_id": "bench",
                    "agency": "tthdl",
                    "dataset": "linux.auth",
                    "raw_id": f"{run}-{i}",
                    "logsource": {"product": "linux", "service": "sshd"},
                },
            }
        )
    return events


async def count(client, index: str) -> int:  # type: ignore[no-untyped-def]
    await client.indices.refresh(index=index, allow_no_indices=True)
    return int((await client.count(index=index, allow_no_indices=True))["count"])


async def bare_client(settings: Settings, events: list[dict], batch: int) -> float:
    client = make_client(settings.opensearch, component="admin")
    index = events_index(settings.opensearch.index_prefix + "bare", "linux.auth")
    await ensure_templates(
        client, settings.opensearch.model_copy(update={"index_prefix": settings.opensearch.index_prefix + "bare"})
    )
    bodies = []
    for start in range(0, len(events), batch):
        body = bytearray()
        for e in events[start : start + batch]:
            body += (
                orjson.dumps({"create": {"_index": index, "_id": e["event"]["id"]}}) + b"\n" + orjson.dumps(e) + b"\n"
            )
        bodies.append(bytes(body))
    t0 = time.perf_counter()
    for body in bodies:
        result = await client.bulk(body=body)
        assert not result["errors"], "bare client bulk had errors"
    elapsed = time.perf_counter() - t0
    assert await count(client, index) == len(events)
    await client.indices.delete_data_stream(name=index)
    await client.close()
    return len(events) / elapsed


async def ours(settings: Settings, events: list[dict]) -> float:
    await ensure_topics(settings.kafka)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap_servers, acks="all", linger_ms=20, max_batch_size=1_048_576
    )
    await producer.start()
    futures = [await producer.send(settings.kafka.topics.events, orjson.dumps(e), key=b"bench") for e in events]
    await asyncio.gather(*futures)
    await producer.stop()
    client = make_client(settings.opensearch, component="admin")
    index = f"{settings.opensearch.index_prefix}.*"
    metrics = Metrics()
    stage = IndexerStage(settings.kafka, settings.opensearch, settings.pipeline, metrics)
    stop = asyncio.Event()
    t0 = time.perf_counter()
    task = asyncio.create_task(stage.run(stop))
    # Done = every document acknowledged by OpenSearch and its offsets committed. Polling with
    # refresh+count would itself slow indexing down, so watch the stage's own counters.
    indexed = metrics.indexed.labels("indexer")
    while indexed._value.get() < len(events) or stage.batches_done * args_batch(settings) < len(events):
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - t0
    assert await count(client, index) == len(events)
    stop.set()
    await task
    await client.indices.delete_data_stream(name=f"{settings.opensearch.index_prefix}.*")
    await client.close()
    return len(events) / elapsed


def args_batch(settings: Settings) -> int:
    return settings.pipeline.indexer.max_batch_records


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args()
    run = uuid.uuid4().hex[:8]
    settings = Settings(
        kafka={
            "group_prefix": f"b{run}",
            "topics": {
                "raw": f"b{run}.raw",
                "events": f"b{run}.events",
                "alerts": f"b{run}.alerts",
                "dlq": f"b{run}.dlq",
                "partitions": 1,
                "replication_factor": 1,  # deploy/local's single broker and node
                "min_insync_replicas": 1,
            },
        },
        opensearch={"index_prefix": f"logs-b{run}", "alerts_index": f"alerts-b{run}", "number_of_replicas": 0},
        pipeline={"indexer": {"max_batch_records": args.batch, "fetch_timeout_ms": 50}},
    )
    events = make_events(args.events, run)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(
        f"commit {commit}, {platform.processor() or platform.machine()}, load {open('/proc/loadavg').read().split()[:3]}"
    )
    baseline = await bare_client(settings, events, args.batch)
    print(f"bare client serial _bulk ({args.batch}/request): {baseline:,.0f} events/s")
    ours_rate = await ours(settings, events)
    print(f"canhgac indexer (Kafka -> bulk -> commit):     {ours_rate:,.0f} events/s")
    print(f"ratio: {ours_rate / baseline:.0%} of the bare client (target >= 80%)")


if __name__ == "__main__":
    asyncio.run(main())
