"""Two detector replicas (two real `canhgac run --stages detector` processes, one consumer group
each for the detector and the correlator) on the secured Kafka: a correlation whose events come
from two sources on two event partitions fires exactly once; and when the replica owning the
correlation's partition is killed (SIGKILL) mid-window, the other restores the window from the
changelog and fires it exactly once, counting every event once."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from aiokafka import TopicPartition
from canhgac.core.config import Settings
from canhgac.core.kafka import ensure_topics, make_admin, make_producer, make_reader

from tests.conftest import REPO, eventually

pytestmark = pytest.mark.integration

RULE_ID = "0d4c5e8a-6b1f-4f0e-9a51-3c2d7e9b1a42"
RULE = f"""
title: Five failed SSH logins from one address (replica test)
id: {RULE_ID}
name: canhgac_test_five_failures_from_address
status: test
correlation:
    type: event_count
    rules:
        - 6f3a4fb9-c908-45ff-a3eb-964934aba813  # canhgac_sshd_auth_failure (bundled)
    group-by:
        - source.ip
    timespan: 10m
    condition:
        gte: 5
level: high
"""
ROUTE_FEED = f"id:{RULE_ID}"


def failure(address: str, i: int, t0: datetime, source: str) -> dict[str, Any]:
    return {
        "@timestamp": (t0 + timedelta(seconds=i)).isoformat(),
        "event": {"id": f"{address}-{i}", "category": ["authentication"], "outcome": "failure"},
        "message": f"Failed password for canbo01 from {address} port {41000 + i} ssh2",
        "source": {"ip": address},
        "user": {"name": "canbo01"},
        "canhgac": {"agency": "so-tttt", "source_id": source, "logsource": {"product": "linux", "service": "sshd"}},
    }


async def start_replica(config: Path, log_path: Path) -> asyncio.subprocess.Process:
    log = open(log_path, "ab")
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "canhgac",
        "--config",
        str(config),
        "run",
        "--stages",
        "detector",
        "--no-collectors",
        "--no-api",
        stdout=log,
        stderr=log,
        cwd=str(REPO),
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def assignment(log_path: Path) -> set[int]:
    """The correlator partitions a replica owns now (its newest assignment, none if released since)."""
    owned: set[int] = set()
    for line in log_path.read_text(errors="replace").splitlines():
        if m := re.search(r"correlator: assigned partitions \[([\d, ]*)\]", line):
            owned = {int(p) for p in m.group(1).split(",") if p.strip()}
        elif "correlator: released partitions" in line:
            owned = set()
    return owned


async def read_all(settings: Settings, topic: str, component: Any) -> list[Any]:
    reader = make_reader(settings.kafka, component=component, client_suffix="replica-test")
    await reader.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(settings.kafka.topics.partitions)]
        reader.assign(tps)
        ends = await reader.end_offsets(tps)
        await reader.seek_to_beginning(*tps)
        out = []
        while [tp for tp in tps if await reader.position(tp) < ends[tp]]:
            fetched = await reader.getmany(*tps, timeout_ms=500)
            out += [
                r for recs in fetched.values() for r in recs if r.offset < ends[TopicPartition(r.topic, r.partition)]
            ]
        return out
    finally:
        await reader.stop()


async def correlator_caught_up(settings: Settings) -> bool:
    """The correlator group committed everything in the correlation input topic."""
    topic = settings.kafka.topics.correlation
    admin = make_admin(settings.kafka, component="admin")
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(f"{settings.kafka.group_prefix}-correlator")
    finally:
        await admin.close()
    reader = make_reader(settings.kafka, component="detector", client_suffix="replica-test-ends")
    await reader.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(settings.kafka.topics.partitions)]
        ends = await reader.end_offsets(tps)
    finally:
        await reader.stop()
    return all(ends[tp] == 0 or (tp in committed and committed[tp].offset >= ends[tp]) for tp in tps)


async def test_two_detector_replicas_fire_a_split_correlation_once_even_when_its_owner_is_killed(
    test_settings: Settings, tmp_path: Path
) -> None:
    settings = test_settings
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "five_failures.yml").write_text(RULE)
    await ensure_topics(settings.kafka)
    configs, logs = [], []
    for name in ("a", "b"):
        data = settings.model_dump(mode="json")
        data["rules"]["paths"] = [str(rules)]
        data["data_dir"] = str(tmp_path / f"var-{name}")
        config = tmp_path / f"canhgac-{name}.yml"
        config.write_text(yaml.safe_dump(data))
        configs.append(config)
        logs.append(tmp_path / f"replica-{name}.log")
    procs = [await start_replica(c, log) for c, log in zip(configs, logs, strict=True)]
    producer = make_producer(settings.kafka, component="normalizer", client_suffix="replica-test")
    await producer.start()

    async def send(address: str, numbers: range, t0: datetime) -> None:
        for i in numbers:  # alternate two sources on the two event partitions
            source, partition = ("srv-a", 0) if i % 2 == 0 else ("srv-b", 1)
            event = failure(address, i, t0, source)
            await producer.send_and_wait(
                settings.kafka.topics.events, orjson.dumps(event), key=source.encode(), partition=partition
            )

    async def my_alerts() -> list[dict[str, Any]]:
        records = await read_all(settings, settings.kafka.topics.alerts, "alert_indexer")
        return [a for a in (orjson.loads(r.value) for r in records) if a["rule"]["id"] == RULE_ID]

    try:

        async def balanced() -> bool:
            for proc, log in zip(procs, logs, strict=True):
                assert proc.returncode is None, log.read_text()[-3000:]
            a, b = assignment(logs[0]), assignment(logs[1])
            return bool(a) and bool(b) and not a & b and a | b == {0, 1}

        await eventually(balanced, timeout_secs=120)
        t0 = datetime.now(UTC) - timedelta(minutes=2)

        # 1. Both replicas up: five failures from X split over two sources and two event partitions.
        await send("203.0.113.10", range(5), t0)

        async def fired_x() -> list[dict[str, Any]]:
            return [a for a in await my_alerts() if a["canhgac"]["group"] == {"source.ip": "203.0.113.10"}]

        await eventually(fired_x, timeout_secs=60)

        # 2. Three failures from Y; once counted, kill the replica owning Y's correlation partition.
        await send("198.51.100.20", range(3), t0)

        async def y_partition() -> int | None:
            records = await read_all(settings, settings.kafka.topics.correlation, "detector")
            inputs = [(r.partition, orjson.loads(r.value)) for r in records]
            routed = [
                partition
                for partition, item in inputs
                if "event" in item  # not a watermark record
                and item["event"]["source"]["ip"] == "198.51.100.20"
                and any(feed[0] == ROUTE_FEED for feed in item["feeds"])
            ]
            return routed[0] if len(routed) == 3 else None

        partition = await eventually(y_partition, timeout_secs=60)
        await eventually(lambda: correlator_caught_up(settings), timeout_secs=60)
        owner = next(i for i, log in enumerate(logs) if partition in assignment(log))
        survivor = 1 - owner
        procs[owner].kill()
        await procs[owner].wait()

        # The two missing failures arrive while the killed replica still holds its partitions.
        await send("198.51.100.20", range(3, 5), t0)

        async def fired_y() -> list[dict[str, Any]]:
            assert procs[survivor].returncode is None, logs[survivor].read_text()[-3000:]
            return [a for a in await my_alerts() if a["canhgac"]["group"] == {"source.ip": "198.51.100.20"}]

        await eventually(fired_y, timeout_secs=120)
        await eventually(lambda: correlator_caught_up(settings), timeout_secs=60)

        alerts = await my_alerts()
        by_address: dict[str, list[dict[str, Any]]] = {}
        for alert in alerts:
            by_address.setdefault(alert["canhgac"]["group"]["source.ip"], []).append(alert)
        assert sorted(by_address) == ["198.51.100.20", "203.0.113.10"]
        for address, found in by_address.items():
            assert len(found) == 1, f"{address}: {len(found)} alert records, expected exactly one: {found}"
            [alert] = found
            assert alert["count"] == 5
            assert sorted(alert["event_ids"]) == sorted(f"{address}-{i}" for i in range(5))
        survivor_log = logs[survivor].read_text(errors="replace")
        # Its newest restore of the partition (it may have held it briefly before the group balanced).
        restored = re.findall(rf"correlator: partition {partition} restored \(input from offset (\d+)\)", survivor_log)
        assert restored and int(restored[-1]) >= 3, "the survivor did not restore the window from the changelog"
    finally:
        await producer.stop()
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 60)
                except TimeoutError:
                    proc.kill()
