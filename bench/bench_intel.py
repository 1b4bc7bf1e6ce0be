"""Threat-intel matching cost: detector throughput on the same events with 0 and with N indicators
loaded (default 1,000,000), and the memory the indicators take.

    python bench/bench_intel.py [--indicators 1000000] [--events 20000] [--runs 5]

The timed loop is `DetectorStage.process` over Kafka-shaped records (JSON decoding, the bundled
rule packs' Sigma matching, indicator lookups, alert grouping and encoding; producing is stubbed),
in batches of 500, CPU time (`time.process_time`, so other processes on a shared machine do not
count) and wall time. Runs alternate 0 / N so drift hits both; the median of `--runs` is printed,
with the 1-minute load average seen during the runs.

Events: a provincial mix of sshd lines, web access logs (URL, user agent), DNS queries, firewall
flows and Sysmon process creations (hashes), with `--addresses` distinct remote addresses; 1 in
1,000 carries a loaded indicator (and raises its alert), no other meets one by chance. Indicators: IPv4
addresses, CIDRs (/16 to /30), IPv6, domains, URLs, MD5/SHA-1/SHA-256, e-mail addresses and user
agents in the proportions of a national feed. Memory: resident set growth from building the
matcher out of the stored documents (the documents themselves freed), and the peak while loading
(the detector holds the documents and the previous matcher while it builds the next one).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import os
import platform
import random
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from canhgac.core.config import Settings
from canhgac.core.metrics import Metrics
from canhgac.pipeline.detector import DetectorStage
from canhgac.pipeline.intel_source import build_matcher
from canhgac.rules.intel.indicators import Indicator
from canhgac.rules.intel.matcher import IndicatorMatcher

BATCH = 500
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE_SIZE


def peak_rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


@dataclass
class Record:
    value: bytes
    key: bytes | None = None
    partition: int = 0
    offset: int = 0


def ip4(rng: random.Random, first: tuple[int, int] = (11, 99)) -> str:
    """Indicators take first octets 11-99, the events' remote addresses 100-223 (their own are in
    10.0.0.0/8): an event meets an indicator only where the stream plants one (1 event in 1,000)."""
    return f"{rng.randint(*first)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def remote_ip4(rng: random.Random) -> str:
    return ip4(rng, (100, 223))


def digest(n: int, size: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()[:size]


def indicator_docs(count: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """Stored-document shape (api/intel/service.py), proportions of a national feed."""
    rng = random.Random(seed)
    shares = [
        ("ipv4", 0.40),
        ("cidr", 0.05),
        ("ipv6", 0.02),
        ("domain", 0.25),
        ("url", 0.10),
        ("sha256", 0.08),
        ("md5", 0.04),
        ("sha1", 0.02),
        ("email", 0.02),
        ("user_agent", 0.02),
    ]
    n = 0
    for kind, share in shares:
        for _ in range(int(count * share)):
            n += 1
            if kind == "ipv4":
                value = ip4(rng)
            elif kind == "cidr":
                prefix = rng.choice((16, 20, 22, 24, 24, 24, 26, 28, 30))
                base = rng.randint(11 << 24, 99 << 24 | 0xFFFFFF) >> (32 - prefix) << (32 - prefix)
                value = f"{base >> 24 & 255}.{base >> 16 & 255}.{base >> 8 & 255}.{base & 255}/{prefix}"
            elif kind == "ipv6":
                value = f"2001:db8:{rng.getrandbits(16):x}:{rng.getrandbits(16):x}::{rng.getrandbits(16):x}"
            elif kind == "domain":
                value = f"c{n}.bad{n % 9973}.example"
            elif kind == "url":
                value = f"dl{n % 5003}.bad.example/p/{n}.exe"
            elif kind in ("sha256", "md5", "sha1"):
                value = digest(n, {"sha256": 64, "md5": 32, "sha1": 40}[kind])
            elif kind == "email":
                value = f"phish{n}@bad{n % 101}.example"
            else:
                value = f"EvilAgent/{n}"
            yield (
                {
                    "id": f"i{n}",
                    "type": kind,
                    "value": value,
                    "feed": rng.choice(("ncsc-taxii", "misp-circl", "bulletin-12-2026")),
                    "agency": None if n % 10 else "so-tttt",
                    "confidence": rng.choice((50, 70, 85)),
                    "severity": "high",
                    "tags": ["malicious-activity"],
                    "expires_at": "2030-01-01T00:00:00.000Z",
                    "reason": "bench",
                }
            )


def events(count: int, hits: list[dict[str, Any]], seed: int = 11, addresses: int = 5_000) -> list[Record]:
    """`addresses` distinct remote addresses (0: a new one for every event, the worst case)."""
    rng = random.Random(seed)
    pool = [remote_ip4(rng) for _ in range(addresses)]

    def remote() -> str:
        return pool[rng.randrange(len(pool))] if pool else remote_ip4(rng)

    now = datetime.now(UTC).isoformat()
    out = []
    for i in range(count):
        kind = i % 5
        base: dict[str, Any] = {
            "@timestamp": now,
            "event": {"id": f"e{i}"},
            "host": {"name": f"host{i % 50}"},
            "canhgac": {"agency": "so-tttt" if i % 3 else "so-yte", "source_id": "bench"},
        }
        src = remote()
        if kind == 0:
            base |= {
                "message": f"Failed password for user{i % 40} from {src} port {40000 + i % 20000} ssh2",
                "source": {"ip": src},
                "user": {"name": f"user{i % 40}"},
            }
            base["canhgac"]["logsource"] = {"product": "linux", "service": "sshd"}
        elif kind == 1:
            base |= {
                "source": {"ip": src},
                "url": {"original": f"/portal/form.php?id={i}", "domain": "dichvucong.example.gov.vn"},
                "http": {"request": {"method": "GET"}, "response": {"status_code": 200}},
                "user_agent": {"original": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0"},
            }
            base["canhgac"]["logsource"] = {"category": "webserver"}
        elif kind == 2:
            base |= {
                "source": {"ip": src},
                "destination": {"ip": "10.0.0.53"},
                "dns": {"question": {"name": f"www{i % 300}.site{i % 77}.vn"}},
            }
            base["canhgac"]["logsource"] = {"category": "dns"}
        elif kind == 3:
            dst = remote()
            base |= {
                "source": {"ip": f"10.1.{i % 250}.{i % 200 + 1}"},
                "destination": {"ip": dst, "port": 443},
                "related": {"ip": [f"10.1.{i % 250}.{i % 200 + 1}", dst]},
                "event": {"id": f"e{i}", "action": "accept"},
            }
            base["canhgac"]["logsource"] = {"category": "firewall"}
        else:
            sha = hashlib.sha256(f"benign{i % 500}".encode()).hexdigest()
            base |= {
                "winlog": {
                    "channel": "Microsoft-Windows-Sysmon/Operational",
                    "event_id": "1",
                    "event_data": {
                        "Image": f"C:\\Program Files\\Vendor{i % 30}\\app.exe",
                        "CommandLine": f'"C:\\Program Files\\Vendor{i % 30}\\app.exe" --sync {i}',
                        "ParentImage": "C:\\Windows\\explorer.exe",
                        "Hashes": f"SHA256={sha.upper()}",
                    },
                },
                "process": {"executable": f"C:\\Program Files\\Vendor{i % 30}\\app.exe", "hash": {"sha256": sha}},
            }
            base["canhgac"]["logsource"] = {"product": "windows", "category": "process_creation"}
        if hits and i % 1000 == 999:  # one event in a thousand meets an indicator
            hit = hits[(i // 1000) % len(hits)]
            base.setdefault("related", {})["ip"] = [hit["value"]] if hit["type"] == "ipv4" else []
            if hit["type"] == "domain":
                base["dns"] = {"question": {"name": "x." + hit["value"]}}
        out.append(Record(orjson.dumps(base)))
    return out


def make_stage() -> DetectorStage:
    s = Settings()
    stage = DetectorStage(s.kafka, s.pipeline, s.rules, Metrics())
    stage.reload_if_changed()

    async def produce(topic: str, items: Any) -> None:
        return None

    async def send_watermarks(newest: Any) -> None:
        return None

    stage.produce = produce  # type: ignore[method-assign]
    stage._send_watermarks = send_watermarks  # type: ignore[method-assign]
    return stage


def run_once(stage: DetectorStage, records: list[Record]) -> tuple[float, float]:
    """Events per CPU second and per wall second over the stream (fresh alert grouping each run)."""
    stage.grouper._open.clear()

    async def go() -> tuple[float, float]:
        started, wall = time.process_time(), time.perf_counter()
        for start in range(0, len(records), BATCH):
            await stage.process(records[start : start + BATCH])  # type: ignore[arg-type]
        return len(records) / (time.process_time() - started), len(records) / (time.perf_counter() - wall)

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--indicators", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--addresses", type=int, default=5_000, help="distinct remote addresses in the stream; 0: all distinct"
    )
    args = parser.parse_args()

    stage = make_stage()
    gc.collect()
    # The matcher alone, built from documents made one at a time (none kept): what a detector holds.
    before = rss_bytes()
    loaded = IndicatorMatcher(Indicator.from_doc(doc) for doc in indicator_docs(args.indicators))
    retained = rss_bytes() - before
    # A reload: the detector reads every document, then builds the next matcher beside the current one.
    docs = list(indicator_docs(args.indicators))
    with_docs = rss_bytes()
    started = time.process_time()
    reloaded = build_matcher(docs)
    build_secs = time.process_time() - started
    peak_during = rss_bytes()
    hits = [d for d in docs if d["type"] in ("ipv4", "domain") and d["agency"] is None][:50]
    del docs, reloaded
    gc.collect()
    records = events(args.events, hits, addresses=args.addresses)
    empty = IndicatorMatcher([])

    rates: dict[str, list[float]] = {"0": [], str(len(loaded)): []}
    walls: dict[str, list[float]] = {"0": [], str(len(loaded)): []}
    loads = [os.getloadavg()[0]]
    alerts_with = 0
    for _ in range(args.runs):
        for label, matcher in (("0", empty), (str(len(loaded)), loaded)):
            stage.intel = matcher
            cpu_rate, wall_rate = run_once(stage, records)
            rates[label].append(cpu_rate)
            walls[label].append(wall_rate)
            loads.append(os.getloadavg()[0])
            if matcher is loaded:
                alerts_with = sum(1 for a in stage.grouper._open.values() if a.alert.get("indicator"))

    # The matcher alone, per event (decoded events, indicators loaded).
    decoded = [orjson.loads(r.value) for r in records]
    started = time.process_time()
    now = time.time()
    for event in decoded:
        loaded.match(event, event["canhgac"]["agency"], now)
    match_us = (time.process_time() - started) / len(decoded) * 1e6

    zero, full = statistics.median(rates["0"]), statistics.median(rates[str(len(loaded))])
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()}")
    print(f"indicators loaded: {len(loaded):,} {loaded.counts()}")
    print(f"build (from stored documents): {build_secs:.1f} s CPU")
    print(
        f"memory: matcher {retained / 2**20:.0f} MiB ({retained / max(len(loaded), 1) * 1e6 / 2**20:.0f} MiB per "
        f"million); during a reload, documents {(with_docs - before - retained) / 2**20:.0f} MiB, "
        f"RSS while building {(peak_during - before) / 2**20:.0f} MiB over the base; process peak {peak_rss_bytes() / 2**20:.0f} MiB"
    )
    distinct = f"{args.addresses:,} distinct remote addresses" if args.addresses else "every address distinct"
    print(f"events: {len(records):,} ({distinct}); intel alerts open with indicators: {alerts_with}")
    print(f"detector, 0 indicators: {zero:,.0f} ev/s (runs {[round(r) for r in rates['0']]})")
    print(
        f"detector, {len(loaded):,} indicators: {full:,.0f} ev/s (runs {[round(r) for r in rates[str(len(loaded))]]})"
    )
    print(f"throughput change (CPU time): {(full - zero) / zero * 100:+.1f} %")
    wall_zero, wall_full = statistics.median(walls["0"]), statistics.median(walls[str(len(loaded))])
    print(
        f"wall: 0 indicators {wall_zero:,.0f} ev/s, {len(loaded):,} indicators {wall_full:,.0f} ev/s, "
        f"change {(wall_full - wall_zero) / wall_zero * 100:+.1f} % (runs {[round(r) for r in walls['0']]} / "
        f"{[round(r) for r in walls[str(len(loaded))]]})"
    )
    print(f"load average (1 min) during the runs: {min(loads):.1f}-{max(loads):.1f}")
    print(f"matcher alone: {match_us:.2f} µs/event")


if __name__ == "__main__":
    main()
