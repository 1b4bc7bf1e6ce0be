"""Syslog over TCP -> Kafka (acks=all, idempotent), one collector process.

The sender runs in a separate process and writes pre-built RFC 3164 lines over a few connections;
the clock stops when Kafka has acknowledged every message. Prints msgs/s.

    python bench/bench_syslog_tcp.py [--messages 500000] [--connections 4] [--kafka 127.0.0.1:19092]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import tempfile
import time
import uuid

from canhgac.collectors.registry import build_collectors
from canhgac.core.config import Settings
from canhgac.core.kafka import ensure_topics
from canhgac.core.metrics import Metrics


def send(port: int, lines: int, offset: int) -> None:
    payload = b"".join(
        b"<38>Nov 26 10:00:00 tthdl-app01 sshd[%d]: Accepted publickey for staff from 10.20.1.%d port %d ssh2 seq=%d\n"
        % (1000 + i % 5000, i % 250, 40000 + i % 20000, offset + i)
        for i in range(lines)
    )
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(payload)


async def main(args: argparse.Namespace) -> None:
    run = uuid.uuid4().hex[:8]
    settings = Settings(
        kafka={
            "bootstrap_servers": args.kafka,
            "topics": {
                "raw": f"bench{run}.raw.v1",
                "events": f"bench{run}.e",
                "alerts": f"bench{run}.a",
                "dlq": f"bench{run}.d",
                "partitions": 3,
                "replication_factor": 1,  # deploy/local's single broker
                "min_insync_replicas": 1,
            },
        },
        collectors={"syslog_tcp": {"port": 0}},
        data_dir=tempfile.mkdtemp(prefix="canhgac-bench-"),
    )
    await ensure_topics(settings.kafka)
    metrics = Metrics()
    (collector,) = build_collectors(settings, None, metrics)
    await collector.start()
    produced = metrics.produced.labels("syslog-tcp", settings.kafka.topics.raw)
    per = args.messages // args.connections
    total = per * args.connections
    procs = [multiprocessing.Process(target=send, args=(collector.port, per, i * per)) for i in range(args.connections)]
    started = time.perf_counter()
    for p in procs:
        p.start()
    received = metrics.received.labels("syslog-tcp")
    while produced._value.get() < total:
        await asyncio.sleep(0.01)
        if args.verbose and time.perf_counter() - started > 1 and int(time.perf_counter() * 100) % 100 == 0:
            print(f"received {received._value.get():.0f} produced {produced._value.get():.0f}")
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join()
    await collector.stop()
    print(
        f"{total} messages in {elapsed:.2f}s: {total / elapsed:,.0f} msgs/s (acks=all, idempotent, "
        f"{args.connections} connections)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=500_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--kafka", default="127.0.0.1:19092")
    parser.add_argument("--verbose", action="store_true")
    asyncio.run(main(parser.parse_args()))
