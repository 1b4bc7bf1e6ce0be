"""The chaos test on the local cluster (deploy/local/cluster.sh: 3 Kafka brokers, 3 OpenSearch
nodes, secured, replication factor 3, min.insync.replicas 2, one index replica).

Two replicas of every stage (normalizer, indexer, detector + its correlator, alert-indexer,
source-health) as `canhgac run` processes (grouped in two "ingest" and two "detect" processes in
CI; CANHGAC_CHAOS_LAYOUT=split: one process per stage replica), two collector processes (HTTP
ingest) and two notifier replicas (one elected owner, one standby) run against it. A steady load
of syslog lines goes through the collectors from four sources of two agencies, each batch with an
Idempotency-Key and retried (on the other collector) until acknowledged; brute-force attacks send
their five failed logins alternately from two servers, so each correlation spans two sources (two
Kafka partitions, possibly two detector replicas); a fifth source writes over syslog TCP to the
same collectors (no acknowledgement: a line is owed only if its collector was not killed around
its write). While it runs, one Kafka broker, one OpenSearch node, one
collector, one replica of each stage and the notifier replica that owns the notifier at that
moment are killed with SIGKILL at random moments and restarted.
At the end:

- every acknowledged line is in OpenSearch exactly once (and every line was acknowledged); every
  owed syslog TCP line is stored, none twice;
- every attack raised exactly one correlation alert, naming its five events and counting 5 (an
  event delivered twice is counted once);
- the declared source that never sends raised its "source silent" alert, and no source raised one
  while it was sending;
- every correlation alert was notified (to a local webhook receiver) under one idempotency key
  of its own, none lost; a key delivered more than once is only one the killed owner had sent
  after its last state snapshot, sent again by the next owner after the kill: the notifier's
  promise is at-least-once with the same `Idempotency-Key` (docs/notifications.md, "Replicas"),
  so a receiver that drops a repeated key sees each alert exactly once.

CANHGAC_CHAOS_SECS sets how long the chaos lasts (default 120, the CI profile); longer runs kill
and restart the targets again, round after round (docs/operations.md, "The chaos test").
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
import pytest
import yaml
from canhgac.core.config import Settings, SourceConfig
from canhgac.core.kafka import make_admin, make_reader
from canhgac.core.store import make_client
from canhgac.pipeline.source_health import SILENT_RULE_ID
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import TransportError

from tests.conftest import REPO, eventually, free_port
from tests.integration.notify.support import LocalHttpServer

T = TypeVar("T")
pytestmark = [pytest.mark.chaos, pytest.mark.integration]

CLUSTER_SH = REPO / "deploy" / "local" / "cluster.sh"
CHAOS_SECS = float(os.environ.get("CANHGAC_CHAOS_SECS", "120"))
SEED = int(os.environ.get("CANHGAC_CHAOS_SEED", str(random.SystemRandom().randrange(1 << 30))))
STAGES = ("normalizer", "indexer", "detector", "alert-indexer", "source-health")
# The replicas' processes. CI ("grouped"): two replicas of the ingest side and two of the detection
# side, six Python processes with the collectors (twelve start too slowly on the shared 2-core CI
# machine); CANHGAC_CHAOS_LAYOUT=split: one process per stage replica, each killed on its own.
LAYOUT = os.environ.get("CANHGAC_CHAOS_LAYOUT", "grouped")
GROUPS: dict[str, tuple[str, ...]] = (
    {stage: (stage,) for stage in STAGES}
    if LAYOUT == "split"
    else {"ingest": ("normalizer", "indexer"), "detect": ("detector", "alert-indexer", "source-health")}
)
RULE_ID = "3f0c9a1e-5b7d-4c2a-9e8f-1a2b3c4d5e6f"
RULE = f"""
title: Five failed SSH logins from one address (chaos test)
id: {RULE_ID}
name: canhgac_chaos_five_failures_from_address
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
# Two agencies, two servers each; an attack alternates between the two servers of one agency.
SOURCES = {"srv-a": "so-tttt", "srv-b": "so-tttt", "srv-c": "ubnd-huyen", "srv-d": "ubnd-huyen"}
PAIRS = (("srv-a", "srv-b"), ("srv-c", "srv-d"))
QUIET = "srv-quiet"
# A fifth source sends over syslog TCP (the collectors' second input kind): no acknowledgement, so
# a line is owed to the store only if its collector was not killed around its sending.
TCP_SOURCE = "srv-tcp"
TCP_RE = re.compile(r"probe tcp=(\d+)")
TCP_AT_RISK = (-5.0, 20.0)  # seconds around a line's write in which its collector's kill may lose it
ACTIVE_INTERVAL_SECS = 90
NOISE_RE = re.compile(r"check seq=(\d+)")
OWNER_TERM = "notifier: owner; state restored"
FAILURE_RE = re.compile(r"Failed password for canbo01 from (\S+) port (\d+)")


def key_of(source: str) -> str:
    return f"khoa-chaos-{source}-0123456789abcdef0123456789"


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port_base() -> int:
    """A base in 23500-23980 whose 12 cluster ports (base+1..3, +11..13, +21..23, +31..33) are free."""
    bases = list(range(23500, 23981, 40))
    random.shuffle(bases)
    for base in bases:
        if all(port_free(base + off + n) for off in (0, 10, 20, 30) for n in (1, 2, 3)):
            return base
    raise AssertionError("no free port range for the chaos cluster in 23500-23999")


@dataclass
class Cluster:
    env: dict[str, str]
    config: Path

    def run(self, *args: str, timeout: float = 600) -> None:
        subprocess.run([str(CLUSTER_SH), *args], env=self.env, check=True, timeout=timeout)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    run_dir = os.environ.get("CANHGAC_CHAOS_CLUSTER_DIR", "/var/tmp/canhgac-chaos")
    env = {
        **os.environ,
        "CANHGAC_CLUSTER_DIR": run_dir,
        "CANHGAC_CLUSTER_PORT_BASE": str(free_port_base()),
        # The quick JIT only: the nodes start (and restart) much faster on a busy 2-core machine.
        "CLUSTER_JAVA_OPTS": os.environ.get("CLUSTER_JAVA_OPTS", "-XX:TieredStopAtLevel=1"),
    }
    c = Cluster(env, Path(run_dir) / "canhgac.yml")
    try:
        c.run("reset", timeout=120)
        started = time.monotonic()
        c.run("start")
        print(f"[chaos] cluster started in {time.monotonic() - started:.0f} s")
        yield c
    finally:
        subprocess.run([str(CLUSTER_SH), "reset"], env=env, timeout=300, check=False)


def cluster_settings(cluster: Cluster, tmp_path: Path, rules: Path) -> Settings:
    services = yaml.safe_load(cluster.config.read_text())
    sources = [
        SourceConfig(
            id=sid,
            agency=agency,
            format="syslog",
            transports=("http",),
            expected_interval_secs=ACTIVE_INTERVAL_SECS,
            ingest_key_sha256=hashlib.sha256(key_of(sid).encode()).hexdigest(),
        )
        for sid, agency in SOURCES.items()
    ]
    sources.append(SourceConfig(id=QUIET, agency="so-tttt", transports=("http",), expected_interval_secs=30))
    sources.append(
        SourceConfig(
            id=TCP_SOURCE,
            agency="so-tttt",
            transports=("syslog_tcp",),
            allowed_addresses=("127.0.0.1",),
            expected_interval_secs=3600,
        )
    )
    return Settings(
        kafka={**services["kafka"], "topics": {**services["kafka"]["topics"], "partitions": 4}},
        opensearch=services["opensearch"],
        sources=tuple(sources),
        collectors={
            "syslog_tcp": {"enabled": True, "host": "127.0.0.1", "port": 0, "default_source_id": None},
            "http": {"enabled": True, "host": "127.0.0.1", "port": 0},
        },
        api={"host": "127.0.0.1", "port": 0},
        metrics_listener={"host": "127.0.0.1", "port": 0},
        pipeline={
            "normalizer": {"max_batch_records": 500, "fetch_timeout_ms": 100},
            "indexer": {"max_batch_records": 500, "fetch_timeout_ms": 100},
            "detector": {"max_batch_records": 500, "fetch_timeout_ms": 100},
            "alert_indexer": {"max_batch_records": 500, "fetch_timeout_ms": 100},
        },
        # A batch a collector could not take is retried (by the sender) after the failover, with
        # its original timestamps: within this lateness its events still count on time.
        rules={"paths": [str(rules)], "correlation_allowed_lateness_secs": 600},
        data_dir=str(tmp_path / "var"),
    )


@dataclass
class Proc:
    """One `canhgac run` process; restarted with the same config (its data dir, its spool)."""

    name: str
    args: list[str]
    config: Path
    log: Path
    metrics_port: int
    proc: asyncio.subprocess.Process | None = None
    starts: int = 0

    async def start(self) -> None:
        out = open(self.log, "ab")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "canhgac",
            "--config",
            str(self.config),
            "run",
            *self.args,
            stdout=out,
            stderr=out,
            cwd=str(REPO),
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        out.close()
        self.starts += 1

    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def kill(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.kill()
            await self.proc.wait()

    async def stop(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


def write_config(
    settings: Settings,
    path: Path,
    data_dir: Path,
    metrics_port: int,
    http_port: int | None = None,
    tcp_port: int | None = None,
    notify: dict[str, Any] | None = None,
) -> Path:
    data = settings.model_dump(mode="json")
    data["data_dir"] = str(data_dir)
    if notify is not None:
        data["notify"] = notify
    data["metrics_listener"]["port"] = metrics_port
    if http_port is not None:
        data["collectors"]["http"]["port"] = http_port
    if tcp_port is not None:
        data["collectors"]["syslog_tcp"]["port"] = tcp_port
    else:
        data["collectors"]["syslog_tcp"]["enabled"] = False
    path.write_text(yaml.safe_dump(data))
    return path


@dataclass
class Load:
    """The sender: lines per source, batches acknowledged or retried until they are."""

    collector_ports: list[int]
    tcp_ports: list[int] = field(default_factory=list)
    # TCP sequence number -> (collector index, when its write was drained): no acknowledgement.
    tcp_sent: dict[str, tuple[int, float]] = field(default_factory=dict)
    sent: Counter[tuple[str, ...]] = field(default_factory=Counter)  # token -> lines acknowledged
    unacked_batches: int = 0
    attacks: dict[str, str] = field(default_factory=dict)  # attacker address -> agency
    queues: dict[str, list[str]] = field(default_factory=lambda: {s: [] for s in SOURCES})
    seq: int = 0
    refusals: Counter[str] = field(default_factory=Counter)
    # When the newest acknowledged line of each source was made: its silence begins no earlier.
    last_sent: dict[str, datetime] = field(default_factory=dict)

    def line(self, source: str, program: str, text: str) -> str:
        ts = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self.seq += 1
        return f"<38>1 {ts} {source}.chaos.local {program} {1000 + self.seq % 30000} - - {text}"

    def attack(self, number: int) -> None:
        address = f"198.18.{number // 250}.{number % 250 + 1}"
        pair = PAIRS[number % 2]
        self.attacks[address] = SOURCES[pair[0]]
        for i in range(5):
            text = f"Failed password for canbo01 from {address} port {40000 + i} ssh2"
            self.queues[pair[i % 2]].append(self.line(pair[i % 2], "sshd", text))

    async def send_source(self, http: httpx.AsyncClient, source: str, stop: asyncio.Event) -> None:
        batch_no = 0
        while not stop.is_set() or self.queues[source]:
            lines = [self.line(source, "cron", f"(root) CMD (/usr/lib/canhgac/check seq={self.seq})") for _ in range(4)]
            lines += self.queues[source]
            self.queues[source] = []
            batch_no += 1
            await self.deliver(http, source, f"{source}-{batch_no}", lines, batch_no)
            await asyncio.sleep(0.5)

    async def send_tcp(self, stop: asyncio.Event) -> None:
        """Two lines every half second over syslog TCP, 20 writes per connection, alternating the
        collectors; a failed write moves to the other collector (the line may be lost: no ack)."""
        n, collector = 0, 0
        while not stop.is_set():
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.tcp_ports[collector])
            except OSError:
                self.refusals["tcp-connect"] += 1
                collector = 1 - collector
                await asyncio.sleep(0.5)
                continue
            try:
                for _ in range(20):
                    if stop.is_set():
                        break
                    numbers = [n + 1, n + 2]
                    n += 2
                    text = "".join(self.line(TCP_SOURCE, "probe", f"probe tcp={i}") + "\n" for i in numbers)
                    for i in numbers:  # written (maybe lost with its collector): before the write
                        self.tcp_sent[str(i)] = (collector, time.monotonic())
                    writer.write(text.encode())
                    await writer.drain()
                    await asyncio.sleep(0.5)
                writer.close()
                await writer.wait_closed()
            except OSError:
                self.refusals["tcp-write"] += 1
                writer.close()
            collector = 1 - collector

    async def deliver(self, http: httpx.AsyncClient, source: str, key: str, lines: list[str], n: int) -> None:
        made = datetime.now(UTC)
        body = "\n".join(lines).encode()
        deadline = time.monotonic() + 300
        attempt = 0
        while time.monotonic() < deadline:
            port = self.collector_ports[(n + attempt) % len(self.collector_ports)]
            attempt += 1
            try:
                resp = await http.post(
                    f"http://127.0.0.1:{port}/ingest/v1/{source}",
                    content=body,
                    headers={
                        "Authorization": f"Bearer {key_of(source)}",
                        "Content-Type": "text/plain",
                        "Idempotency-Key": key,
                    },
                )
            except httpx.HTTPError as exc:
                self.refusals[type(exc).__name__] += 1
            else:
                if 200 <= resp.status_code < 300:
                    for text in lines:
                        self.sent[token(text)] += 1
                    self.last_sent[source] = made
                    return
                self.refusals[str(resp.status_code)] += 1
            await asyncio.sleep(0.5)
        self.unacked_batches += 1


def token(text: str) -> tuple[str, ...]:
    """What identifies a line of the load: its noise or TCP sequence number, or attacker and port."""
    if m := TCP_RE.search(text):
        return ("tcp", m.group(1))
    if m := NOISE_RE.search(text):
        return ("noise", m.group(1))
    if m := FAILURE_RE.search(text):
        return ("failure", m.group(1), m.group(2))
    return ("other", text)


async def stored_tokens(settings: Settings) -> Counter[tuple[str, ...]]:
    return await while_node_rejoins(lambda: _stored_tokens(settings))


async def stored_alerts(settings: Settings) -> list[dict[str, Any]]:
    return await while_node_rejoins(lambda: _stored_alerts(settings))


async def while_node_rejoins(read: Callable[[], Awaitable[T]]) -> T:
    """A read, retried while a restarted OpenSearch node answers 503 ("OpenSearch Security not
    initialized") or refuses connections: the cluster survives one node, the test's reads too."""
    deadline = time.monotonic() + 120
    while True:
        try:
            return await read()
        except (OpenSearchConnectionError, TransportError) as exc:
            if isinstance(exc, OpenSearchConnectionError) or exc.status_code == 503:
                if time.monotonic() < deadline:
                    await asyncio.sleep(2)
                    continue
            raise


async def _stored_tokens(settings: Settings) -> Counter[tuple[str, ...]]:
    client = make_client(settings.opensearch, component="admin")
    index = f"{settings.opensearch.index_prefix}.*"
    seen: Counter[tuple[str, ...]] = Counter()
    try:
        await client.indices.refresh(index=index, allow_no_indices=True)
        body: dict[str, Any] = {
            "size": 5000,
            "_source": ["message"],
            "sort": [{"event.id": "asc"}],
            "query": {"match_all": {}},
        }
        while True:
            page = await client.search(index=index, body=body, allow_no_indices=True)
            hits = page["hits"]["hits"]
            seen.update(token(str(h["_source"].get("message", ""))) for h in hits)
            if len(hits) < 5000:
                return seen
            body["search_after"] = hits[-1]["sort"]
    finally:
        await client.close()


async def _stored_alerts(settings: Settings) -> list[dict[str, Any]]:
    client = make_client(settings.opensearch, component="admin")
    index = settings.opensearch.alerts_index
    try:
        await client.indices.refresh(index=index, allow_no_indices=True)
        found = await client.search(
            index=index,
            body={"size": 5000, "query": {"terms": {"rule.id": [RULE_ID, SILENT_RULE_ID]}}},
            allow_no_indices=True,
        )
        return [h["_source"] for h in found["hits"]["hits"]]
    finally:
        await client.close()


@pytest.mark.timeout(int(CHAOS_SECS) + 900)
async def test_chaos_on_the_local_cluster(cluster: Cluster, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    print(f"[chaos] seed {SEED} (CANHGAC_CHAOS_SEED repeats the kill schedule), chaos for {CHAOS_SECS:.0f} s, {LAYOUT}")
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "chaos.yml").write_text(RULE)
    settings = cluster_settings(cluster, tmp_path, rules)
    procs: list[Proc] = []
    collector_ports, tcp_ports = [free_port(), free_port()], [free_port(), free_port()]
    for i, port in enumerate(collector_ports):
        name, metrics = f"collectors-{'ab'[i]}", free_port()
        var = tmp_path / f"var-{name}"
        cfg = write_config(settings, tmp_path / f"{name}.yml", var, metrics, http_port=port, tcp_port=tcp_ports[i])
        procs.append(Proc(name, ["--stages", "", "--no-api"], cfg, tmp_path / f"{name}.log", metrics))
    for group, stages in GROUPS.items():
        for replica in "ab":
            name, metrics = f"{group}-{replica}", free_port()
            cfg = write_config(settings, tmp_path / f"{name}.yml", tmp_path / f"var-{name}", metrics)
            args = ["--stages", ",".join(stages), "--no-collectors", "--no-api"]
            procs.append(Proc(name, args, cfg, tmp_path / f"{name}.log", metrics))
    # Two notifier replicas (an elected owner and a standby, each with its own data dir), sending
    # each correlation alert to a local webhook receiver; the owner of the moment is killed.
    hook = await LocalHttpServer().start()
    notify = {
        "channels": {"hook": {"type": "webhook", "url": f"{hook.url}/hook"}},
        "routes": [{"name": "chaos", "match": {"rule_ids": [RULE_ID]}, "channels": ["hook"]}, {"name": "rest"}],
    }
    for replica in "ab":
        name, metrics = f"notifier-{replica}", free_port()
        cfg = write_config(settings, tmp_path / f"{name}.yml", tmp_path / f"var-{name}", metrics, notify=notify)
        args = ["--stages", "notifier", "--no-collectors", "--no-api"]
        procs.append(Proc(name, args, cfg, tmp_path / f"{name}.log", metrics))
    by_name = {p.name: p for p in procs}
    notifiers = [by_name["notifier-a"], by_name["notifier-b"]]
    # Each kill of the owner: (webhook requests received when it was dead, when a new owner had
    # restored the state). A repeat of a send must straddle one of these.
    owner_kills: list[tuple[int, int]] = []

    def notified() -> Counter[str]:
        return Counter(i for r in hook.requests for i in orjson.loads(r.body).get("alert_ids", []))

    def terms() -> int:
        """How many owner terms the notifier replicas' logs show (each starts with a restore)."""
        return sum(notifier_log(p).count(OWNER_TERM) for p in notifiers)

    async def current_owner() -> Proc | None:
        return next((p for p in notifiers if notifier_role(p) == "owner"), None)

    load = Load(collector_ports, tcp_ports)

    def tcp_owed() -> set[tuple[str, ...]]:
        """TCP lines whose collector was not killed from TCP_AT_RISK[0] before to [1] after."""
        early, late = TCP_AT_RISK
        return {
            ("tcp", i)
            for i, (c, at) in load.tcp_sent.items()
            if not any(at + early <= k <= at + late for k in collector_kills[c])
        }

    collector_kills: dict[int, list[float]] = {0: [], 1: []}  # collector index -> kill times
    stop_load, stop_attacks = asyncio.Event(), asyncio.Event()
    events: list[str] = []
    t_start = time.monotonic()

    def note(what: str) -> None:
        events.append(f"{time.monotonic() - t_start:6.1f}s {what}")
        print(f"[chaos] {events[-1]}")

    # One broker and one OpenSearch node down at a time at most: each cluster survives one loss.
    cluster_locks = {"kafka": asyncio.Lock(), "opensearch": asyncio.Lock()}

    async def episode(target: str, delay: float) -> None:
        await asyncio.sleep(delay)
        if target.startswith(("kafka-", "opensearch-")):
            kind, number = target.split("-")
            async with cluster_locks[kind]:
                note(f"kill -9 {target}")
                await asyncio.to_thread(cluster.run, f"kill-{kind}", number)
                await asyncio.sleep(rng.uniform(5, 15))
                note(f"restart {target}")
                await asyncio.to_thread(cluster.run, f"start-{kind}", number)
                note(f"{target} back")
        elif target == "notifier-owner":
            owner: Proc = await eventually(current_owner, timeout_secs=120, interval_secs=1)
            before = terms()
            note(f"kill -9 {owner.name} (the notifier's owner)")
            await owner.kill()
            killed_at = len(hook.requests)
            await asyncio.sleep(rng.uniform(3, 10))
            note(f"restart {owner.name}")
            await owner.start()

            # The new owner (the standby, or the restarted replica if Kafka elects it) restores.
            async def new_term() -> bool:
                return terms() > before

            await eventually(new_term, timeout_secs=180, interval_secs=1)
            owner_kills.append((killed_at, len(hook.requests)))
            new_owner = await current_owner()
            note(f"notifier: new owner {new_owner.name if new_owner else '?'}, state restored")
        else:
            proc = by_name[target]
            note(f"kill -9 {target}")
            if target.startswith("collectors-"):
                collector_kills["ab".index(target[-1])].append(time.monotonic())
            await proc.kill()
            await asyncio.sleep(rng.uniform(3, 10))
            note(f"restart {target}")
            await proc.start()

    async def attacks() -> None:
        number = 0
        while not stop_attacks.is_set():
            load.attack(number)
            number += 1
            await asyncio.sleep(2)

    try:
        started = time.monotonic()
        for p in procs:
            await p.start()

        async def all_ready() -> bool:
            for p in procs:
                assert p.alive(), f"{p.name} exited: {p.log.read_text(errors='replace')[-3000:]}"
            return all(await asyncio.gather(*(ready(p.metrics_port) for p in procs)))

        await eventually(all_ready, timeout_secs=240, interval_secs=1)
        note(f"{len(procs)} canhgac processes ready in {time.monotonic() - started:.0f} s")

        async with httpx.AsyncClient(timeout=30) as http:
            senders = [asyncio.create_task(load.send_source(http, s, stop_load)) for s in SOURCES]
            senders.append(asyncio.create_task(load.send_tcp(stop_load)))
            attacker = asyncio.create_task(attacks())
            # Targets: a broker, an OpenSearch node, a collector and one replica of each stage,
            # each killed at a random moment of each round (several rounds when CHAOS_SECS is long).
            rounds = max(1, int(CHAOS_SECS // 120))
            round_secs = CHAOS_SECS / rounds
            chaos: list[asyncio.Task[None]] = []
            for r in range(rounds):
                targets = [f"kafka-{rng.randint(1, 3)}", f"opensearch-{rng.randint(1, 3)}"]
                targets += [f"{g}-{rng.choice('ab')}" for g in ("collectors", *GROUPS)]
                targets.append("notifier-owner")
                for target in targets:
                    at = r * round_secs + rng.uniform(0.05, 0.6) * round_secs
                    chaos.append(asyncio.create_task(episode(target, at)))
            await asyncio.sleep(CHAOS_SECS)
            await asyncio.gather(*chaos)
            note("chaos over; load stops")
            stop_attacks.set()
            await attacker
            stop_load.set()  # each sender sends what is queued (the last attacks), then stops
            await asyncio.gather(*senders)
        note(f"acknowledged {sum(load.sent.values())} lines; refusals/errors while sending: {dict(load.refusals)}")
        assert load.unacked_batches == 0, "batches never acknowledged in 300 s of retries"
        for p in procs:
            assert p.alive(), f"{p.name} exited: {p.log.read_text(errors='replace')[-3000:]}"

        # 1. Every acknowledged line stored, exactly once.
        async def all_stored() -> Counter[tuple[str, ...]] | None:
            seen = await stored_tokens(settings)
            missing = set(load.sent) - set(seen)
            return seen if not missing and tcp_owed() <= set(seen) else None

        await eventually(all_stored, timeout_secs=240, interval_secs=3)
        note("every acknowledged line is stored")

        # 2. Every attack's correlation alert (every attack was sent: the senders flushed).
        expected = set(load.attacks)
        assert all(("failure", a, str(40000 + i)) in load.sent for a in expected for i in range(5))

        async def all_alerts() -> list[dict[str, Any]] | None:
            alerts = await stored_alerts(settings)
            fired = {a["canhgac"]["group"].get("source.ip") for a in alerts if a["rule"]["id"] == RULE_ID}
            silent = [a for a in alerts if a["rule"]["id"] == SILENT_RULE_ID]
            quiet = [a for a in silent if a["canhgac"]["group"]["canhgac.source_id"] == QUIET]
            waiting_for[:] = [
                f"{len(expected - fired)} attacks without an alert",
                f"silent alerts: {len(silent)}, of {QUIET}: {len(quiet)}",
            ]
            return alerts if expected <= fired and quiet else None

        waiting_for: list[str] = []  # what the wait below still lacks, shown if it times out

        try:
            await eventually(all_alerts, timeout_secs=180, interval_secs=3)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {waiting_for}") from None
        note("every expected alert is stored")
        alert_ids = {a["id"] for a in await stored_alerts(settings) if a["rule"]["id"] == RULE_ID}

        async def all_notified() -> bool:
            return alert_ids <= set(notified())

        await eventually(all_notified, timeout_secs=120, interval_secs=2)
        note(f"every correlation alert notified ({len(hook.requests)} webhook requests)")
        # Let any straggling duplicate arrive before counting (a replay after the last kill).
        await eventually(lambda: consumers_caught_up(settings), timeout_secs=120, interval_secs=2)
        seen = await stored_tokens(settings)
        alerts = await stored_alerts(settings)
    finally:
        stop_load.set()
        stop_attacks.set()
        await asyncio.gather(*(p.stop() for p in procs), return_exceptions=True)
        await hook.stop()
        print("[chaos] timeline:\n  " + "\n  ".join(events))
        for p in procs:
            if p.starts > 1 or not p.alive():
                tail = p.log.read_text(errors="replace")[-600:] if p.log.exists() else ""
                print(f"[chaos] {p.name}: started {p.starts} times; log tail:\n{tail}")

    sent = set(load.sent)
    assert not [t for t in seen if t[0] == "other"], "stored events the load never sent"
    # Syslog TCP: every line owed is stored, no line the sender did not write, none twice (below).
    tcp_seen = {t for t in seen if t[0] == "tcp"}
    owed = tcp_owed()
    print(f"[chaos] syslog TCP: {len(load.tcp_sent)} lines written, {len(owed)} owed, {len(tcp_seen)} stored")
    assert owed, "no syslog TCP line was owed: the TCP sender did not work"
    assert owed <= tcp_seen, f"syslog TCP lines lost: {len(owed - tcp_seen)}"
    assert tcp_seen <= {("tcp", i) for i in load.tcp_sent}, "stored TCP lines never written"
    http_seen = {t for t in seen if t[0] != "tcp"}
    assert http_seen == sent, f"missing {len(sent - http_seen)}, unexpected {len(http_seen - sent)}"
    twice = {t: n for t, n in seen.items() if n > 1}
    assert not twice, f"{len(twice)} lines stored more than once, e.g. {list(twice.items())[:5]}"

    correlations: dict[str, list[dict[str, Any]]] = {}
    for alert in alerts:
        if alert["rule"]["id"] == RULE_ID:
            correlations.setdefault(alert["canhgac"]["group"]["source.ip"], []).append(alert)
    assert set(correlations) == set(load.attacks)
    wrong = {
        address: [(a["id"], a["count"], len(set(a["event_ids"]))) for a in found]
        for address, found in correlations.items()
        if len(found) != 1 or len(set(found[0]["event_ids"])) != 5
    }
    assert not wrong, f"{len(wrong)} attacks not alerted exactly once with their 5 events: {list(wrong.items())[:5]}"
    # An event delivered twice (a retried batch, a redelivery after a kill) is counted once.
    overcounted = {address: found[0]["count"] for address, found in correlations.items() if found[0]["count"] != 5}
    assert not overcounted, f"correlation alerts whose count is not their 5 events: {overcounted}"
    for address, (alert,) in correlations.items():
        assert alert["agency"] == load.attacks[address]

    # Notifications: at-least-once with the same idempotency key (docs/notifications.md, "Replicas").
    # None lost: every correlation alert was delivered, and nothing else was.
    assert set(notified()) == {a["id"] for found in correlations.values() for a in found}
    # One key per alert, one alert per key: a receiver that drops a repeated key sees each once.
    keys: dict[str, set[str]] = {}
    positions: dict[str, list[int]] = {}
    for n, request in enumerate(hook.requests):
        key = request.headers["idempotency-key"]
        for alert_id in orjson.loads(request.body)["alert_ids"]:
            keys.setdefault(alert_id, set()).add(key)
        positions.setdefault(key, []).append(n)
    assert not {i: k for i, k in keys.items() if len(k) != 1}, "alerts notified under several keys"
    assert len(positions) == len(keys), "one idempotency key for several alerts"
    # A key sent twice is only a send the killed owner made after its last snapshot, repeated by
    # the next owner: its first copy arrived before that owner had restored, its repeat after the
    # kill. Without an owner killed in between, nothing is sent twice.
    repeats = {k: at for k, at in positions.items() if len(at) > 1}
    print(f"[chaos] {len(hook.requests)} webhook requests, {len(positions)} keys, repeated: {repeats}")
    unexplained = {
        k: at
        for k, at in repeats.items()
        if len(at) - 1 > len(owner_kills)
        or not all(any(a < took_over and b >= killed for killed, took_over in owner_kills) for a, b in pairwise(at))
    }
    assert not unexplained, f"notifications repeated without an owner kill between them: {unexplained}"

    silent = Counter(a["canhgac"]["group"]["canhgac.source_id"] for a in alerts if a["rule"]["id"] == SILENT_RULE_ID)
    # The quiet source's silence is raised (once, or twice when its owner died between raising it
    # and the health snapshot that records it: docs/operations.md, Scale-out of the stateful
    # stages). A source that kept sending can only be silent once it stopped: an alert raised
    # before its last line + its expected interval is false. (The test waits long enough after the
    # load for true ones to come.)
    assert silent[QUIET] >= 1, f"no source-silent alert for {QUIET}"
    false_silent = [
        (a["canhgac"]["group"]["canhgac.source_id"], a["first_seen"])
        for a in alerts
        if a["rule"]["id"] == SILENT_RULE_ID
        and a["canhgac"]["group"]["canhgac.source_id"] in SOURCES
        and datetime.fromisoformat(a["first_seen"].replace("Z", "+00:00"))
        < load.last_sent[a["canhgac"]["group"]["canhgac.source_id"]] + timedelta(seconds=ACTIVE_INTERVAL_SECS)
    ]
    assert not false_silent, f"source-silent alerts for sources that were sending: {false_silent}"


def notifier_log(proc: Proc) -> str:
    return proc.log.read_text(errors="replace") if proc.log.exists() else ""


def notifier_role(proc: Proc) -> str:
    """owner | standby | none: the replica's newest election line (its log spans its restarts)."""
    if not proc.alive():
        return "none"
    state = "none"
    for line in notifier_log(proc).splitlines():
        if OWNER_TERM in line:
            state = "owner"
        elif "notifier: standby" in line:
            state = "standby"
        elif "notifier: stepped down" in line:
            state = "none"
    return state


async def ready(metrics_port: int) -> bool:
    """The process's /readyz: collectors listening, stages started (Kafka and OpenSearch reached)."""
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            return (await http.get(f"http://127.0.0.1:{metrics_port}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


async def consumers_caught_up(settings: Settings) -> bool:
    """Every consumer group of the pipeline has committed the end of its input topic."""
    admin = make_admin(settings.kafka, component="admin")
    await admin.start()
    reader = make_reader(settings.kafka, component="admin", client_suffix="chaos-ends")
    await reader.start()
    try:
        groups = await admin.list_consumer_groups()
        names = [g[0] for g in groups if g[0].startswith(settings.kafka.group_prefix)]
        for group in names:
            committed = await admin.list_consumer_group_offsets(group)
            tps = list(committed)
            if not tps:
                continue
            ends = await reader.end_offsets(tps)
            if any(committed[tp].offset < ends[tp] for tp in tps):
                return False
        return bool(names)
    finally:
        await reader.stop()
        await admin.close()
