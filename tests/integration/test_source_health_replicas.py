"""Two source-health replicas in one consumer group on the real Kafka: each declared source that
goes quiet raises its "source silent" alert exactly once, from the replica owning the events
partition of the source's key (a replica taking a partition over restores the silences its
previous owner already raised from the health snapshots)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.partitioner import murmur2
from canhgac.core.config import Settings, SourceConfig
from canhgac.core.kafka import ensure_topics
from canhgac.core.metrics import Metrics
from canhgac.pipeline.source_health import SILENT_RULE_ID, SourceHealthStage

from tests.conftest import eventually
from tests.integration.test_correlator_replicas import read_all

pytestmark = pytest.mark.integration


def partition_of(source_id: str, partitions: int) -> int:
    return (murmur2(source_id.encode()) & 0x7FFFFFFF) % partitions


def quiet_sources(partitions: int) -> tuple[SourceConfig, ...]:
    """Two quiet sources on each events partition."""
    chosen: dict[int, list[str]] = {}
    n = 0
    while any(len(chosen.get(p, [])) < 2 for p in range(partitions)):
        sid = f"fw-quiet-{n}"
        chosen.setdefault(partition_of(sid, partitions), []).append(sid)
        n += 1
    ids = [sid for p in range(partitions) for sid in chosen[p][:2]]
    return tuple(
        SourceConfig(id=sid, agency="so-tttt", allowed_addresses=("127.0.0.1/32",), expected_interval_secs=4)
        for sid in ids
    )


async def test_two_source_health_replicas_raise_each_silence_once(test_settings: Settings, tmp_path: Path) -> None:
    partitions = test_settings.kafka.topics.partitions
    sources = quiet_sources(partitions)
    settings = test_settings.model_copy(update={"sources": sources})
    await ensure_topics(settings.kafka)
    replicas = [
        SourceHealthStage(
            settings.kafka, settings.opensearch, settings.pipeline, Metrics(), sources, check_interval_secs=0.5
        )
        for _ in range(2)
    ]
    checks = [0, 0]
    for i, replica in enumerate(replicas):
        publish = replica._publish

        async def counted(alerts: list[dict[str, Any]], i: int = i, publish: Any = publish) -> None:
            await publish(alerts)
            checks[i] += 1

        replica._publish = counted  # type: ignore[method-assign]
    stops = [asyncio.Event(), asyncio.Event()]
    # Started together: neither finds an earlier silence in OpenSearch, so only ownership keeps
    # the second from raising what the first raises.
    tasks = [asyncio.create_task(replica.run(stop)) for replica, stop in zip(replicas, stops, strict=True)]
    try:

        async def balanced() -> bool:
            a, b = replicas[0].owned_partitions, replicas[1].owned_partitions
            return bool(a) and bool(b) and not a & b and a | b == set(range(partitions))

        await eventually(balanced, timeout_secs=60)

        async def silences() -> dict[str, list[dict[str, Any]]] | None:
            records = await read_all(settings, settings.kafka.topics.alerts, "alert_indexer")
            found: dict[str, list[dict[str, Any]]] = {}
            for alert in (orjson.loads(r.value) for r in records):
                if alert["rule"]["id"] == SILENT_RULE_ID:
                    found.setdefault(alert["canhgac"]["source_id"], []).append(alert)
            return found if set(found) == {s.id for s in sources} else None

        await eventually(silences, timeout_secs=60)
        # Several more checks by both replicas after the group balanced: nobody raises them again.
        seen = list(checks)
        await eventually(lambda: _true(all(c >= s + 4 for c, s in zip(checks, seen, strict=True))), timeout_secs=60)
        found = await silences()
        assert found is not None
        for source_id, alerts in found.items():
            assert len(alerts) == 1, f"{source_id}: raised {len(alerts)} times: {alerts}"
        owners = {
            i for i, r in enumerate(replicas) for s in sources if partition_of(s.id, partitions) in r.owned_partitions
        }
        assert owners == {0, 1}, "both replicas own quiet sources"
    finally:
        for stop in stops:
            stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 60)


async def _true(value: bool) -> bool:
    return value
