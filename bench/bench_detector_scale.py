"""Detector scale-out: the same backlog of events through 1 and then 2 detector processes.

  python bench/bench_detector_scale.py [--events 20000] [--partitions 4] [--replicas 1,2]

For each replica count: fresh topics (names extending the defaults, so the secured services' ACLs
apply), K `canhgac run --stages detector` processes (each runs the detector and the correlator,
the bundled rule packs loaded), started and joined first; then `--events` normalised events are
produced as fast as one producer can (SSH failures from many addresses and users on 8 sources,
one in three a benign event) and the clock runs until both consumer groups (detector, correlator)
have committed everything. Prints events/s per run and checks that every run raised the same set
of correlations (rule, agency, group) fired (N replicas give what one gives). Needs deploy/local/services.sh start;
reads $CANHGAC_RUN_DIR/canhgac.yml (default /var/tmp/canhgac-run) for addresses and credentials.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import yaml
from aiokafka import TopicPartition
from canhgac.core.config import Settings
from canhgac.core.kafka import ensure_topics, make_admin, make_producer, make_reader

REPO = Path(__file__).resolve().parents[1]
RUN_DIR = Path(os.environ.get("CANHGAC_RUN_DIR", "/var/tmp/canhgac-run"))
SOURCES = [f"bench-srv-{i}" for i in range(8)]
CANHGAC = [sys.executable, "-m", "canhgac"]


def settings_for(run: str, partitions: int) -> Settings:
    services = yaml.safe_load((RUN_DIR / "canhgac.yml").read_text())
    return Settings(
        kafka={
            **services["kafka"],
            "topics": {
                "raw": f"canhgac.raw.v1.b{run}",
                "events": f"canhgac.events.v1.b{run}",
                "alerts": f"canhgac.alerts.v1.b{run}",
                "dlq": f"canhgac.dlq.v1.b{run}",
                "correlation": f"canhgac.correlation-input.v1.b{run}",
                "correlation_state": f"canhgac.correlation-state.v1.b{run}",
                "partitions": partitions,
                "replication_factor": 1,
                "min_insync_replicas": 1,
            },
            "client_id": f"canhgac-bench-{run}",
            "group_prefix": f"canhgac-b{run}",
        },
        opensearch={
            **services["opensearch"],
            "index_prefix": f"logs-canhgac-b{run}",
            "alerts_index": f"canhgac-alerts-b{run}",
            "sources_index": f"canhgac-sources-b{run}",
            "config_index_prefix": f"canhgac-config-b{run}",
            "audit_index": f"canhgac-audit-b{run}",
            "number_of_replicas": 0,
        },
        metrics_listener={"host": "127.0.0.1", "port": 0},
        pipeline={"detector": {"max_batch_records": 1000, "fetch_timeout_ms": 50}},
    )


def events(n: int, t0: datetime) -> list[tuple[bytes, dict[str, Any]]]:
    out = []
    for i in range(n):
        source = SOURCES[i % len(SOURCES)]
        ts = (t0 + timedelta(milliseconds=i * 5)).isoformat()
        if i % 3 == 2:
            event = {
                "@timestamp": ts,
                "event": {"id": f"b{i}", "category": ["process"], "outcome": "success"},
                "message": "cron job finished",
                "host": {"name": source},
                "canhgac": {"agency": "so-tttt", "source_id": source, "logsource": {"product": "linux"}},
            }
        else:
            event = {
                "@timestamp": ts,
                "event": {"id": f"b{i}", "category": ["authentication"], "outcome": "failure"},
                "message": "Failed password",
                "source": {"ip": f"203.0.113.{i // 7 % 200}"},
                "user": {"name": f"canbo{i // 11 % 50:02d}"},
                "host": {"name": source},
                "canhgac": {
                    "agency": "so-tttt" if i % 5 else "so-yte",
                    "source_id": source,
                    "logsource": {"product": "linux", "service": "sshd"},
                },
            }
        out.append((source.encode(), event))
    return out


async def committed_to_end(settings: Settings, group: str, topic: str) -> bool:
    admin = make_admin(settings.kafka, component="admin")
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(f"{settings.kafka.group_prefix}-{group}")
    finally:
        await admin.close()
    reader = make_reader(settings.kafka, component="admin", client_suffix="bench-ends")
    await reader.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(settings.kafka.topics.partitions)]
        ends = await reader.end_offsets(tps)
    finally:
        await reader.stop()
    return all(ends[tp] == 0 or (tp in committed and committed[tp].offset >= ends[tp]) for tp in tps)


async def alert_ids(settings: Settings) -> set[str]:
    reader = make_reader(settings.kafka, component="admin", client_suffix="bench-alerts")
    await reader.start()
    try:
        topic = settings.kafka.topics.alerts
        tps = [TopicPartition(topic, p) for p in range(settings.kafka.topics.partitions)]
        reader.assign(tps)
        ends = await reader.end_offsets(tps)
        await reader.seek_to_beginning(*tps)
        ids: set[str] = set()
        while [tp for tp in tps if await reader.position(tp) < ends[tp]]:
            for records in (await reader.getmany(*tps, timeout_ms=500)).values():
                for r in records:
                    alert = orjson.loads(r.value)
                    if alert.get("correlation"):
                        # Rule and group, not the id: a window's anchor (hence its id) may depend on
                        # how partitions interleave, with one replica as with two (docs/correlation.md).
                        ids.add(f"{alert['rule']['id']} {alert['agency']} {orjson.dumps(alert['canhgac']['group'])!r}")
        return ids
    finally:
        await reader.stop()


def joined(logs: list[Path], partitions: int) -> bool:
    owned: list[set[int]] = []
    for log in logs:
        current: set[int] = set()
        for line in log.read_text(errors="replace").splitlines():
            if m := re.search(r"correlator: assigned partitions \[([\d, ]*)\]", line):
                current = {int(p) for p in m.group(1).split(",") if p.strip()}
        owned.append(current)
    return all(owned) and set().union(*owned) == set(range(partitions))


async def one_run(replicas: int, n: int, partitions: int, workdir: Path, t0: datetime) -> tuple[float, set[str]]:
    run = uuid.uuid4().hex[:8]
    settings = settings_for(run, partitions)
    await ensure_topics(settings.kafka)
    data = settings.model_dump(mode="json")
    config = workdir / f"canhgac-{run}.yml"
    config.write_text(yaml.safe_dump(data))
    logs = [workdir / f"run-{run}-{i}.log" for i in range(replicas)]
    procs = [
        subprocess.Popen(
            [*CANHGAC, "--config", str(config), "run", "--stages", "detector", "--no-collectors", "--no-api"],
            stdout=open(log, "wb"),  # the child writes it until it exits
            stderr=subprocess.STDOUT,
            cwd=str(REPO),
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        for log in logs
    ]
    try:
        deadline = time.monotonic() + 180
        while not joined(logs, partitions):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise SystemExit(f"replicas did not start: see {logs}")
            await asyncio.sleep(0.5)
        await asyncio.sleep(3)  # let a last rebalance settle
        batch = events(n, t0)
        producer = make_producer(settings.kafka, component="normalizer", client_suffix="bench")
        await producer.start()
        started = time.perf_counter()
        try:
            futures = [await producer.send(settings.kafka.topics.events, orjson.dumps(e), key=k) for k, e in batch]
            await asyncio.gather(*futures)
        finally:
            await producer.stop()
        produced = time.perf_counter() - started
        while not (
            await committed_to_end(settings, "detector", settings.kafka.topics.events)
            and await committed_to_end(settings, "correlator", settings.kafka.topics.correlation)
        ):
            await asyncio.sleep(0.25)
        elapsed = time.perf_counter() - started
        print(
            f"replicas={replicas}: {n} events in {elapsed:.1f} s = {n / elapsed:,.0f} events/s (produced in {produced:.1f} s)"
        )
        return elapsed, await alert_ids(settings)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--replicas", default="1,2")
    args = ap.parse_args()
    print(f"{platform.node()} {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; python {platform.python_version()}")
    workdir = Path(tempfile.mkdtemp(prefix="canhgac-bench-scale-"))
    results = {}
    t0 = datetime.now(UTC) - timedelta(minutes=30)  # the same events every run: the same alert ids
    for replicas in (int(r) for r in args.replicas.split(",")):
        results[replicas] = await one_run(replicas, args.events, args.partitions, workdir, t0)
    sets = [ids for _elapsed, ids in results.values()]
    print(
        f"correlation (rule, agency, group) per run: {[len(s) for s in sets]}; "
        f"identical: {all(s == sets[0] for s in sets)}"
    )
    print(f"load after: {os.getloadavg()[0]:.1f}; logs in {workdir}")


if __name__ == "__main__":
    asyncio.run(main())
