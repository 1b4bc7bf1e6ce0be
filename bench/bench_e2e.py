"""End to end latency: syslog line in -> alert document in OpenSearch, at a sustained rate.

  python bench/bench_e2e.py [--rate 2000] [--seconds 300] [--probes-per-sec 1]

Runs `canhgac run` as its own process (isolated topics and indices), sends `--rate` lines/s of
benign provincial syslog over TCP for `--seconds`, and once a second a probe line that a bundled
rule turns into an alert with a known id (computed the way the detector computes it). A poller
reads probes' alert ids with realtime GETs (no refresh needed) and records when each appeared.
Prints throughput achieved, and latency p50/p95/p99/max. Needs deploy/local/services.sh start.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import yaml
from canhgac.core.alert import alert_id as contract_alert_id
from canhgac.core.config import Settings, SyslogTcpConfig
from canhgac.core.store import make_client

WINDOW_SECS = 600


def rule_id() -> str:
    text = (Path(__file__).resolve().parents[1] / "rules/packs/province/ssh_root_login_accepted.yml").read_text()
    return next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("id:"))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def probe_line(i: int, now: datetime) -> tuple[str, str]:
    """A root login from a unique address: one new alert, whose id we can compute."""
    ip = f"198.51.{100 + i // 250 % 100}.{i % 250 + 1}"
    ts = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    line = f"<38>1 {ts} probe-host sshd {i} - - Accepted password for root from {ip} port 40{i % 1000:03d} ssh2"
    bucket = int(now.timestamp()) // WINDOW_SECS * WINDOW_SECS
    key = {"host.name": "probe-host", "host.hostname": "probe-host", "source.ip": ip, "user.name": "root"}
    # The syslog collector's default agency (no sources declared): the agency is part of the id.
    alert_id = contract_alert_id(rule_id(), SyslogTcpConfig().default_agency, key, str(bucket))
    return line, alert_id


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rate", type=int, default=2000)
    ap.add_argument("--seconds", type=int, default=300)
    args = ap.parse_args()
    run = uuid.uuid4().hex[:8]
    syslog_port, api_port = free_port(), free_port()
    settings = Settings(
        kafka={
            "group_prefix": f"e{run}",
            "topics": {
                "raw": f"e{run}.raw",
                "events": f"e{run}.events",
                "alerts": f"e{run}.alerts",
                "dlq": f"e{run}.dlq",
                "correlation": f"e{run}.correlation-input",
                "correlation_state": f"e{run}.correlation-state",
                # deploy/local's single broker and node
                "replication_factor": 1,
                "min_insync_replicas": 1,
            },
        },
        opensearch={
            "index_prefix": f"logs-e{run}",
            "alerts_index": f"alerts-e{run}",
            "sources_index": f"sources-e{run}",
            "number_of_replicas": 0,
        },
        collectors={"syslog_tcp": {"port": syslog_port}},
        api={"port": api_port},
        pipeline={
            s: {"max_batch_records": 2000, "fetch_timeout_ms": 20}
            for s in ("normalizer", "indexer", "detector", "alert_indexer")
        },
    )
    workdir = Path(tempfile.mkdtemp(prefix="canhgac-bench-"))
    data = settings.model_dump(mode="json")
    data["data_dir"] = str(workdir / "var")
    config = workdir / "canhgac.yml"
    config.write_text(yaml.safe_dump(data))
    log = open(workdir / "run.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "canhgac", "--config", str(config), "run"],
        stdout=log,
        stderr=log,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        for _ in range(600):
            try:
                _r, w = await asyncio.open_connection("127.0.0.1", syslog_port)
                w.close()
                break
            except OSError:
                await asyncio.sleep(0.2)
        _reader, writer = await asyncio.open_connection("127.0.0.1", syslog_port)
        client = make_client(settings.opensearch, component="admin")
        sent_at: dict[str, float] = {}
        seen_at: dict[str, float] = {}
        sent = 0
        done = asyncio.Event()

        async def poll() -> None:
            while not done.is_set() or len(seen_at) < len(sent_at):
                pending = [a for a in sent_at if a not in seen_at]
                if pending:
                    try:
                        found = await client.mget(
                            index=settings.opensearch.alerts_index, body={"ids": pending}, _source=False
                        )
                        now = time.perf_counter()
                        for doc in found["docs"]:
                            if doc.get("found"):
                                seen_at[doc["_id"]] = now
                    except Exception:
                        pass
                if done.is_set() and time.perf_counter() - last_send > 30:
                    return
                await asyncio.sleep(0.02)

        last_send = time.perf_counter()
        poller = asyncio.create_task(poll())
        t0 = time.perf_counter()
        tick = 0
        while time.perf_counter() - t0 < args.seconds:
            lines = [
                f"<14>Nov 26 09:00:00 portal-web0{(sent + j) % 4} nginx: 10.20.1.{j % 250} GET /dich-vu-cong/{sent + j}".encode()
                + b"\n"
                for j in range(args.rate // 10)
            ]
            if tick % 10 == 0:
                line, alert_id = probe_line(tick // 10, datetime.now(UTC))
                lines.append(line.encode() + b"\n")
                sent_at[alert_id] = time.perf_counter()
            writer.write(b"".join(lines))
            await writer.drain()
            sent += len(lines)
            last_send = time.perf_counter()
            tick += 1
            delay = t0 + tick * 0.1 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        elapsed = time.perf_counter() - t0
        done.set()
        await poller
        writer.close()
        latencies = sorted(seen_at[a] - sent_at[a] for a in seen_at)
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        print(
            f"commit {commit}, {platform.machine()}, {os.cpu_count()} cores, load {open('/proc/loadavg').read().split()[:3]}"
        )
        print(
            f"sent {sent:,} lines in {elapsed:.0f}s = {sent / elapsed:,.0f} lines/s; probes {len(sent_at)}, alerts seen {len(seen_at)}"
        )
        if latencies:
            q = (
                statistics.quantiles(latencies, n=100, method="inclusive")
                if len(latencies) > 1
                else [latencies[0]] * 99
            )
            print(
                f"syslog -> alert in OpenSearch: p50 {q[49]:.3f}s  p95 {q[94]:.3f}s  p99 {q[98]:.3f}s  max {latencies[-1]:.3f}s (target p99 < 2 s)"
            )
        await client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
        print(f"canhgac run exited {proc.returncode}; log: {workdir / 'run.log'}")


if __name__ == "__main__":
    asyncio.run(main())
