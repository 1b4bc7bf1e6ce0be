"""Province-scale run: N sources through the real collectors -> Kafka -> normaliser -> detector
(whole SigmaHQ corpus + the bundled packs) -> indexer / alert indexer, one process per stage.

  python bench/bench_province.py [--sources 200] [--rate 400] [--duration 150] [--partitions 4]
                                 [--layout split|all-in-one] [--replicas 1]

Declares `--sources` sources in the settings (issue 13 item 6): 70 % Linux/network syslog senders
over TCP, each connecting from its own loopback address (127.1.x.y, matched by
`allowed_addresses`), and 30 % Windows hosts posting EVTX JSON to the HTTP collector with their
own ingest key. The syslog mix: nginx access lines, sshd failures and logins (a few brute-force
bursts), sudo, cron, postfix; the Windows mix: the SigmaHQ conformance events
(shared/conformance/sigmahq/dev/events) with twenty benign variants of each (bench_sigma.py's
"realistic" stream). Every event carries the time it was sent, so an alert's latency is the time
its record reached canhgac.alerts.v1 (read here) minus its `last_seen` (the newest event it counts).

Processes (`--layout split`, the default): `canhgac run --stages '' --no-api` (collectors only) and
`--instance` normalizer, detector, indexer, alert-indexer, `--replicas` of each (STAGE-1, STAGE-2, …:
one consumer group per stage, so the replicas share its partitions). `--layout all-in-one`: a
single `canhgac run --stages normalizer,indexer,detector,alert-indexer --no-api` process (collectors
and the four stages: the saturation figure of one process). Every 10 s it prints events/s in (accepted into the raw topic),
alerts out, p50/p99 event->alert latency of the alerts of the window, consumer lag per stage and the
CPU% of each process. At the end (after the groups caught up): CPU seconds per 1,000 events per
stage, from /proc/<pid>/stat (user + system), less each process's idle CPU measured before the load
started. Needs deploy/local/services.sh start; reads $CANHGAC_RUN_DIR/canhgac.yml.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import platform
import random
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml
from aiokafka import TopicPartition
from canhgac.core.config import Settings
from canhgac.core.kafka import ensure_topics, make_admin, make_reader

REPO = Path(__file__).resolve().parents[1]
RUN_DIR = Path(os.environ.get("CANHGAC_RUN_DIR", "/var/tmp/canhgac-run"))
SIGMAHQ = REPO.parent / "shared" / "conformance" / "sigmahq"
CANHGAC = [sys.executable, "-m", "canhgac"]
STAGES = ("normalizer", "detector", "indexer", "alert-indexer")
AGENCIES = [f"so-{n}" for n in ("tttt", "yte", "gddt", "tc", "nv", "xd", "ct", "kh", "tn", "gt")]
TICK_SECS = 0.1
CLK_TCK = os.sysconf("SC_CLK_TCK")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sigma import benign_variant  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_secs(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def syslog_address(i: int) -> str:
    return f"127.1.{i // 250}.{i % 250 + 1}"


def settings_for(
    run: str, partitions: int, n_sources: int, keys: dict[str, str]
) -> tuple[Settings, list[dict[str, Any]]]:
    services = yaml.safe_load((RUN_DIR / "canhgac.yml").read_text())
    n_windows = n_sources * 3 // 10
    sources: list[dict[str, Any]] = []
    for i in range(n_sources - n_windows):
        sources.append(
            {
                "id": f"lnx-{i:03d}",
                "agency": AGENCIES[i % len(AGENCIES)],
                "format": "syslog",
                "allowed_addresses": [f"{syslog_address(i)}/32"],
                "transports": ["syslog_tcp"],
            }
        )
    for i in range(n_windows):
        sid = f"win-{i:03d}"
        sources.append(
            {
                "id": sid,
                "agency": AGENCIES[i % len(AGENCIES)],
                "format": "windows-evtx-json",
                "transports": ["http"],
                "ingest_key_sha256": hashlib.sha256(keys[sid].encode()).hexdigest(),
            }
        )
    settings = Settings(
        kafka={
            **services["kafka"],
            "topics": {
                "raw": f"canhgac.raw.v1.p{run}",
                "events": f"canhgac.events.v1.p{run}",
                "alerts": f"canhgac.alerts.v1.p{run}",
                "dlq": f"canhgac.dlq.v1.p{run}",
                "correlation": f"canhgac.correlation-input.v1.p{run}",
                "correlation_state": f"canhgac.correlation-state.v1.p{run}",
                "notifier_state": f"canhgac.notifier-state.v1.p{run}",
                "partitions": partitions,
                "replication_factor": 1,
                "min_insync_replicas": 1,
            },
            "client_id": f"canhgac-bench-{run}",
            "group_prefix": f"canhgac-p{run}",
        },
        opensearch={
            **services["opensearch"],
            "index_prefix": f"logs-canhgac-p{run}",
            "alerts_index": f"canhgac-alerts-p{run}",
            "sources_index": f"canhgac-sources-p{run}",
            "config_index_prefix": f"canhgac-config-p{run}",
            "audit_index": f"canhgac-audit-p{run}",
            "number_of_replicas": 0,
        },
        collectors={
            "syslog_tcp": {"host": "0.0.0.0", "port": free_port()},
            "http": {"enabled": True, "host": "127.0.0.1", "port": free_port()},
        },
        metrics_listener={"host": "127.0.0.1", "port": 0},
        rules={"paths": [str(SIGMAHQ / "rules")]},
        pipeline={
            s: {"max_batch_records": 1000, "fetch_timeout_ms": 50}
            for s in ("normalizer", "indexer", "detector", "alert_indexer")
        },
    )
    return settings, sources


def syslog_line(rng: random.Random, host: str, now: datetime, n: int) -> bytes:
    ts = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    roll = rng.random()
    ip = f"10.{n % 200}.{rng.randrange(250)}.{rng.randrange(1, 250)}"
    if roll < 0.45:
        app, msg = (
            "nginx",
            f'{ip} - - [x] "GET /dich-vu-cong/thu-tuc/{n} HTTP/1.1" 200 {rng.randrange(300, 9000)} "-" "Mozilla/5.0"',
        )
    elif roll < 0.65:
        # a few addresses try many passwords: the bundled brute-force correlations fire
        attacker = f"203.0.113.{rng.randrange(8)}" if rng.random() < 0.3 else ip
        app, msg = (
            "sshd",
            f"Failed password for canbo{rng.randrange(40):02d} from {attacker} port {rng.randrange(30000, 60000)} ssh2",
        )
    elif roll < 0.72:
        who = "root" if rng.random() < 0.05 else f"canbo{rng.randrange(40):02d}"
        app, msg = "sshd", f"Accepted publickey for {who} from {ip} port {rng.randrange(30000, 60000)} ssh2"
    elif roll < 0.82:
        app, msg = (
            "sudo",
            f"canbo{rng.randrange(40):02d} : TTY=pts/0 ; PWD=/home/x ; USER=root ; COMMAND=/usr/bin/systemctl status nginx",
        )
    elif roll < 0.92:
        app, msg = "CRON", f"(root) CMD (/usr/local/bin/backup.sh {n % 7})"
    else:
        app, msg = "postfix/smtpd", f"connect from unknown[{ip}]"
    return f"<38>1 {ts} {host} {app} {rng.randrange(100, 60000)} - - {msg}\n".encode()


def windows_events() -> list[bytes]:
    attack = [
        line
        for f in sorted((SIGMAHQ / "dev" / "events").glob("*.ndjson"))
        for line in f.read_bytes().splitlines()
        if line.strip()
    ]
    realistic = list(attack)
    for n in range(20):
        realistic.extend(benign_variant(line, n) for line in attack)
    random.Random(7).shuffle(realistic)
    return realistic


def stamped(line: bytes, now: datetime, host: str) -> bytes:
    obj = orjson.loads(line)
    system = obj["Event"]["System"]
    system["TimeCreated"] = {"#attributes": {"SystemTime": now.isoformat().replace("+00:00", "Z")}}
    system["Computer"] = host
    return orjson.dumps(obj)


def quantiles(values: list[float]) -> tuple[float, float]:
    if not values:
        return float("nan"), float("nan")
    if len(values) == 1:
        return values[0], values[0]
    q = statistics.quantiles(values, n=100, method="inclusive")
    return q[49], q[98]


class Lag:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        t = settings.kafka.topics
        self.groups = {"normalizer": t.raw, "indexer": t.events, "detector": t.events, "alert-indexer": t.alerts}

    async def ends(self, topic: str) -> dict[TopicPartition, int]:
        reader = make_reader(self.settings.kafka, component="admin", client_suffix="bench-ends")
        await reader.start()
        try:
            tps = [TopicPartition(topic, p) for p in range(self.settings.kafka.topics.partitions)]
            return dict(await reader.end_offsets(tps))
        finally:
            await reader.stop()

    async def lags(self) -> dict[str, int]:
        admin = make_admin(self.settings.kafka, component="admin")
        await admin.start()
        out: dict[str, int] = {}
        try:
            for stage, topic in self.groups.items():
                committed = await admin.list_consumer_group_offsets(f"{self.settings.kafka.group_prefix}-{stage}")
                ends = await self.ends(topic)
                out[stage] = sum(end - (committed[tp].offset if tp in committed else 0) for tp, end in ends.items())
        finally:
            await admin.close()
        return out


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sources", type=int, default=200)
    ap.add_argument("--rate", type=int, default=400, help="events/s offered, all sources together")
    ap.add_argument("--duration", type=int, default=150, help="seconds of load")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--keep", action="store_true", help="keep the run's topics and indices")
    ap.add_argument("--layout", choices=("split", "all-in-one"), default="split")
    ap.add_argument("--replicas", type=int, default=1, help="processes per stage (split layout)")
    a = ap.parse_args()
    run = uuid.uuid4().hex[:8]
    n_windows = a.sources * 3 // 10
    keys = {f"win-{i:03d}": secrets.token_urlsafe(32) for i in range(n_windows)}
    settings, sources = settings_for(run, a.partitions, a.sources, keys)
    await ensure_topics(settings.kafka)
    workdir = Path(tempfile.mkdtemp(prefix="canhgac-province-"))
    data = settings.model_dump(mode="json")
    data["sources"] = sources
    data["data_dir"] = str(workdir / "var")
    config = workdir / "canhgac.yml"
    config.write_text(yaml.safe_dump(data))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    run_cmd = [*CANHGAC, "--config", str(config), "run"]
    if a.layout == "all-in-one":
        commands = {"all-in-one": [*run_cmd, "--stages", ",".join(STAGES), "--no-api"]}
        stage_logs = {s: ["all-in-one"] for s in STAGES}
    else:
        replicas = [(s, f"{s}-{k}" if a.replicas > 1 else s) for s in STAGES for k in range(1, a.replicas + 1)]
        commands = {
            "collectors": [*run_cmd, "--stages", "", "--no-api"],
            **{name: [*run_cmd, "--instance", name] for _, name in replicas},
        }
        stage_logs = {s: [name for stage, name in replicas if stage == s] for s in STAGES}
    logs = {name: workdir / f"{name}.log" for name in commands}
    procs = {
        name: subprocess.Popen(cmd, stdout=open(logs[name], "wb"), stderr=subprocess.STDOUT, cwd=str(REPO), env=env)
        for name, cmd in commands.items()
    }
    lag = Lag(settings)
    alerts_seen: list[tuple[float, float]] = []  # (received at, latency)
    stop = asyncio.Event()
    try:
        print(f"workdir {workdir}; waiting for the stages (the detector loads the SigmaHQ corpus) ...", flush=True)
        deadline = time.monotonic() + 600
        while not all(
            f"stage {s} consuming" in logs[name].read_text(errors="replace") for s in STAGES for name in stage_logs[s]
        ):
            dead = [n for n, p in procs.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                raise SystemExit(f"not started: {dead or 'timeout'}; see {workdir}")
            await asyncio.sleep(1)
        syslog_port = settings.collectors.syslog_tcp.port
        http_url = f"http://127.0.0.1:{settings.collectors.http.port}"
        n_syslog = a.sources - n_windows
        writers = []
        for i in range(n_syslog):
            for _ in range(100):
                try:
                    _r, w = await asyncio.open_connection("127.0.0.1", syslog_port, local_addr=(syslog_address(i), 0))
                    writers.append(w)
                    break
                except OSError:
                    await asyncio.sleep(0.2)
        http = httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=16))

        # Idle CPU per process (polling, heartbeats), to subtract from the loaded figures.
        idle_secs = 10.0
        await asyncio.sleep(15)  # start-up work (rule cache, first metadata) settles first
        before = {n: cpu_secs(p.pid) for n, p in procs.items()}
        await asyncio.sleep(idle_secs)
        idle_rate = {n: (cpu_secs(p.pid) - before[n]) / idle_secs for n, p in procs.items()}

        async def read_alerts() -> None:
            reader = make_reader(settings.kafka, component="alert_indexer", client_suffix="bench-alerts")
            await reader.start()
            tps = [TopicPartition(settings.kafka.topics.alerts, p) for p in range(a.partitions)]
            reader.assign(tps)
            await reader.seek_to_beginning(*tps)
            try:
                while not stop.is_set():
                    for records in (await reader.getmany(*tps, timeout_ms=500)).values():
                        now = time.time()
                        for r in records:
                            alert = orjson.loads(r.value)
                            last = alert.get("last_seen")
                            if last:
                                seen = datetime.fromisoformat(str(last).replace("Z", "+00:00")).timestamp()
                                alerts_seen.append((now, now - seen))
            finally:
                await reader.stop()

        alert_task = asyncio.create_task(read_alerts())
        win_lines = windows_events()
        rng = random.Random(1)
        sent = {"syslog": 0, "windows": 0}
        win_buffers: dict[int, list[bytes]] = {i: [] for i in range(n_windows)}
        raw_start = sum((await lag.ends(settings.kafka.topics.raw)).values())
        cpu0 = {n: cpu_secs(p.pid) for n, p in procs.items()}
        t0 = time.perf_counter()
        tick = 0
        report_every = int(10 / TICK_SECS)
        last_report = (t0, raw_start, {n: cpu0[n] for n in procs}, 0)
        print(
            f"{'t':>5} {'in ev/s':>8} {'alerts':>7} {'p50 s':>6} {'p99 s':>6}  lag: "
            + " ".join(f"{s:>13}" for s in lag.groups)
            + "  CPU%: "
            + " ".join(f"{n[:5]:>6}" for n in procs),
            flush=True,
        )
        posts: set[asyncio.Task[Any]] = set()
        failed_posts = 0

        async def post(i: int, body: bytes) -> None:
            nonlocal failed_posts
            headers = {"Content-Type": "application/x-ndjson", "X-Canhgac-Key": keys[f"win-{i:03d}"]}
            for _ in range(5):  # as a shipper does: retry until accepted
                try:
                    response = await http.post(f"{http_url}/ingest/v1/win-{i:03d}", content=body, headers=headers)
                    if response.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                failed_posts += 1
                await asyncio.sleep(2)

        while time.perf_counter() - t0 < a.duration:
            now = datetime.now(UTC)
            per_tick = a.rate * TICK_SECS
            n_events = int(per_tick) + (1 if rng.random() < per_tick % 1 else 0)
            for _ in range(n_events):
                if rng.random() < 0.7 and writers:
                    i = rng.randrange(n_syslog)
                    writers[i].write(syslog_line(rng, f"lnx-{i:03d}", now, sent["syslog"]))
                    sent["syslog"] += 1
                elif n_windows:
                    i = rng.randrange(n_windows)
                    line = win_lines[(sent["windows"]) % len(win_lines)]
                    win_buffers[i].append(stamped(line, now, f"win-{i:03d}.so.local"))
                    sent["windows"] += 1
            for w in writers:
                if w.transport.get_write_buffer_size():
                    await w.drain()
            # each Windows host posts its batch every 5 s (a shipper's bulk flush)
            for i in range(tick % 50, n_windows, 50):
                if win_buffers[i]:
                    body, win_buffers[i] = b"\n".join(win_buffers[i]), []
                    task = asyncio.create_task(post(i, body))
                    posts.add(task)
                    task.add_done_callback(posts.discard)
            tick += 1
            if tick % report_every == 0:
                t, raw_then, cpu_then, alerts_then = last_report
                now_p = time.perf_counter()
                raw_now = sum((await lag.ends(settings.kafka.topics.raw)).values())
                cpu_now = {n: cpu_secs(p.pid) for n, p in procs.items()}
                window = [lat for at, lat in alerts_seen[alerts_then:]]
                p50, p99 = quantiles(window)
                lags = await lag.lags()
                print(
                    f"{now_p - t0:5.0f} {(raw_now - raw_then) / (now_p - t):8.0f} {len(window):7d} {p50:6.2f} {p99:6.2f}        "
                    + " ".join(f"{lags[s]:>13,}" for s in lag.groups)
                    + "        "
                    + " ".join(f"{100 * (cpu_now[n] - cpu_then[n]) / (now_p - t):6.0f}" for n in procs),
                    flush=True,
                )
                last_report = (now_p, raw_now, cpu_now, len(alerts_seen))
            delay = t0 + tick * TICK_SECS - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        load_secs = time.perf_counter() - t0
        if posts:
            await asyncio.gather(*posts, return_exceptions=True)
        for w in writers:
            await w.drain()
        # Drain: every group has committed what reached its topic.
        drain_deadline = time.monotonic() + 900
        raw_events = 0
        while time.monotonic() < drain_deadline:
            await asyncio.sleep(2)
            raw_events = sum((await lag.ends(settings.kafka.topics.raw)).values()) - raw_start
            if not any((await lag.lags()).values()):
                break
        total_secs = time.perf_counter() - t0
        cpu1 = {n: cpu_secs(p.pid) for n, p in procs.items()}
        stop.set()
        await alert_task
        await http.aclose()
        for w in writers:
            w.close()
        lats = sorted(lat for _, lat in alerts_seen)
        p50, p99 = quantiles(lats)
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        print(
            f"\ncommit {commit}, {platform.machine()}, {os.cpu_count()} CPUs, load average "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {a.sources} sources ({n_syslog} syslog TCP, "
            f"{n_windows} Windows over HTTP), {a.partitions} partitions; layout {a.layout}"
            + (f", {a.replicas} processes per stage" if a.layout == "split" else "")
        )
        print(
            f"offered {a.rate} ev/s for {load_secs:.0f} s (achieved {(sent['syslog'] + sent['windows']) / load_secs:,.0f}): sent {sent['syslog']:,} syslog + {sent['windows']:,} Windows; "
            f"accepted into the raw topic {raw_events:,} ({raw_events / load_secs:,.0f} ev/s); all stages caught up "
            f"{total_secs - load_secs:.0f} s after the load stopped; HTTP posts retried {failed_posts}; this "
            f"sender used {resource.getrusage(resource.RUSAGE_SELF).ru_utime:.0f} s CPU"
        )
        print(
            f"alert records {len(lats):,}; event -> alert record latency p50 {p50:.2f} s, p99 {p99:.2f} s, max {lats[-1] if lats else float('nan'):.2f} s"
        )
        print(
            "\nstage            CPU s (loaded)  idle CPU %  CPU s per 1,000 events  (less idle)  1 core sustains (ev/s)"
        )
        costs: dict[str, float] = {}
        for n in procs:
            used = cpu1[n] - cpu0[n]
            costs[n] = 1000 * used / max(raw_events, 1)
            net = 1000 * max(used - idle_rate[n] * total_secs, 0.0) / max(raw_events, 1)
            print(
                f"{n:15s} {cpu1[n] - cpu0[n]:15.1f} {100 * idle_rate[n]:11.1f} {costs[n]:23.3f} {net:12.3f} {1000 / costs[n] if costs[n] > 0 else float('inf'):23,.0f}"
            )
        total = sum(costs.values())
        worst = max(costs, key=lambda n: costs[n])
        print(
            f"total {total:.3f} CPU s per 1,000 events (idle included: conservative) => {1000 / total:,.0f} ev/s per core for the whole pipeline; "
            f"16 cores (Kafka and OpenSearch elsewhere), 70 % usable: ~{16 * 0.7 * 1000 / total:,.0f} ev/s; "
            f"the most expensive stage: {worst} ({costs[worst]:.3f} CPU s per 1,000 events)"
        )
    finally:
        stop.set()
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
        for p in procs.values():
            try:
                p.wait(timeout=120)
            except subprocess.TimeoutExpired:
                p.kill()
        if not a.keep:
            await cleanup(settings)


async def cleanup(settings: Settings) -> None:
    """Drop the run's topics and indices from the shared services."""
    from canhgac.core.store import make_client

    t = settings.kafka.topics
    admin = make_admin(settings.kafka, component="admin")
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        names = [
            n
            for n in (t.raw, t.events, t.alerts, t.dlq, t.correlation, t.correlation_state, t.notifier_state)
            if n in existing
        ]
        if names:
            await admin.delete_topics(names)
    except Exception as exc:  # best effort: the run's figures are already printed
        print(f"cleanup: topics left ({exc})")
    finally:
        await admin.close()
    client = make_client(settings.opensearch, component="admin")
    o = settings.opensearch
    try:
        for pattern in (
            f"{o.index_prefix}*",
            f"{o.alerts_index}*",
            f"{o.sources_index}*",
            f"{o.config_index_prefix}*",
            f"{o.audit_index}*",
        ):
            try:
                await client.transport.perform_request("DELETE", f"/_data_stream/{pattern}")
            except Exception:
                pass
            try:
                await client.indices.delete(
                    index=pattern, params={"expand_wildcards": "all", "ignore_unavailable": "true"}
                )
            except Exception:
                pass
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
