"""Detection engine benchmark: whole SigmaHQ corpus over Windows event streams, one core.

    python bench/bench_sigma.py [--shared ../shared] [--seconds 5]

Streams are raw evtx_dump JSON lines; the timed loop includes orjson parsing, the Windows parser
and Engine.match. "realistic" = conformance events plus 20 benign variants of each (fields
rewritten to ordinary values, mostly matching nothing); "attack-dense" = conformance events
repeated; "+1KB CommandLine" = the realistic stream with 1 KB of ordinary option text appended to
every CommandLine. The straightforward evaluator runs every applicable rule on every event; both
must return identical matches. `--runs 5` times each stream five times and prints the median.
"""

from __future__ import annotations

import argparse
import random
import resource
import time
from pathlib import Path

import orjson
from canhgac.pipeline.normalize.windows import from_evtx_json
from canhgac.rules.engine import Engine
from canhgac.rules.loader import load_rules

BENIGN_VALUES = {
    "Image": "C:\\Program Files\\Vendor{n}\\app{n}.exe",
    "ParentImage": "C:\\Windows\\explorer.exe",
    "CommandLine": '"C:\\Program Files\\Vendor{n}\\app{n}.exe" --profile user{n} --sync',
    "ParentCommandLine": "C:\\Windows\\explorer.exe",
    "OriginalFileName": "app{n}.exe",
    "TargetFilename": "C:\\Users\\user{n}\\Documents\\report{n}.docx",
    "TargetObject": "HKCU\\Software\\Vendor{n}\\Settings\\Value{n}",
    "Details": "DWORD (0x0000000{d})",
    "ImageLoaded": "C:\\Program Files\\Vendor{n}\\lib{n}.dll",
    "PipeName": "\\vendor{n}_pipe",
    "TargetImage": "C:\\Program Files\\Vendor{n}\\svc{n}.exe",
}


def benign_variant(line: bytes, n: int) -> bytes:
    obj = orjson.loads(line)
    data = obj["Event"].get("EventData") or {}
    for key, template in BENIGN_VALUES.items():
        if key in data:
            data[key] = template.format(n=n, d=n % 10)
    return orjson.dumps(obj)


# 1 KB of ordinary command-line options: long text in the field most rules scan.
EXTRA_COMMANDLINE = " ".join(f"--option{i} value{i}" for i in range(80))[:1024]


def with_long_commandline(line: bytes) -> bytes:
    obj = orjson.loads(line)
    data = obj["Event"].get("EventData") or {}
    if isinstance(data.get("CommandLine"), str):
        data["CommandLine"] += " " + EXTRA_COMMANDLINE
    return orjson.dumps(obj)


def run(engine: Engine, lines: list[bytes], seconds: float, naive: bool = False) -> tuple[float, float]:
    match = engine.match_all_applicable if naive else engine.match
    count, per_event = 0, []
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < deadline:
        for line in lines:
            t0 = time.perf_counter()
            match(from_evtx_json(orjson.loads(line)))
            per_event.append(time.perf_counter() - t0)
        count += len(lines)
    took = time.perf_counter() - start
    per_event.sort()
    return count / took, per_event[int(len(per_event) * 0.99)] * 1e6


def parse_cost(lines: list[bytes], seconds: float) -> float:
    """µs per event spent in orjson + the Windows parser alone (part of every timed loop)."""
    count, deadline, start = 0, time.perf_counter() + seconds, time.perf_counter()
    while time.perf_counter() < deadline:
        for line in lines:
            from_evtx_json(orjson.loads(line))
        count += len(lines)
    return (time.perf_counter() - start) / count * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[1] / ".." / "shared"))
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--runs", type=int, default=1, help="timed runs per stream (the median is reported)")
    a = ap.parse_args()
    conf = Path(a.shared) / "conformance" / "sigmahq"
    t0 = time.perf_counter()
    loaded = load_rules([conf / "rules"])
    load_secs = time.perf_counter() - t0
    rss_after_load = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    engine = Engine(loaded.rules)
    attack = [
        line
        for f in sorted((conf / "dev" / "events").glob("*.ndjson"))
        for line in f.read_bytes().splitlines()
        if line.strip()
    ]
    realistic = list(attack)
    for n in range(20):
        realistic.extend(benign_variant(line, n) for line in attack)
    random.Random(7).shuffle(realistic)
    long_text = [with_long_commandline(line) for line in realistic]

    # identical matches, fast vs straightforward
    for line in realistic + long_text:
        ev = from_evtx_json(orjson.loads(line))
        assert [m.id for m in engine.match(ev)] == [m.id for m in engine.match_all_applicable(ev)]
    print(
        f"rules: {len(loaded.rules)} loaded, {len(loaded.rejected)} rejected; load {load_secs:.1f}s; "
        f"max RSS after load {rss_after_load:.0f} MiB"
    )
    for name, lines in (("realistic", realistic), ("attack-dense", attack), ("+1KB CommandLine", long_text)):
        engine.match(from_evtx_json(orjson.loads(lines[0])))  # warm route caches
        runs = sorted((run(engine, lines, a.seconds) for _ in range(a.runs)), key=lambda r: r[0])
        rate, p99 = runs[len(runs) // 2]
        naive_rate, _ = run(engine, lines, a.seconds, naive=True)
        each = f" (runs: {' / '.join(f'{r:,.0f}' for r, _ in runs)}; median)" if a.runs > 1 else ""
        print(
            f"{name:13s} {len(loaded.rules)} rules: {rate:,.0f} ev/s{each}, p99 {p99:.0f} us; straightforward "
            f"{naive_rate:,.0f} ev/s; speed-up {rate / naive_rate:.1f}x"
        )
    print(f"of which parsing (orjson + Windows parser): {parse_cost(realistic, a.seconds / 3):.1f} us/event")
    rng = random.Random(1)
    for size in (100, 1000):
        subset = Engine(rng.sample(loaded.rules, size))
        for name, lines in (("realistic", realistic), ("attack-dense", attack)):
            rate, p99 = run(subset, lines, a.seconds)
            print(f"{name:13s} {size} rules: {rate:,.0f} ev/s, p99 {p99:.0f} us")
    print(f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
