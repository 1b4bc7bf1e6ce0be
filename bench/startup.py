"""Start-up of the detection engine, cold (every rule file compiled) and from the compiled-rule cache.

Each run is a fresh Python process: imports, `load_rules` (with or without a RuleCache), `Engine`,
then the first event matched (its route's pre-filter is built and its candidate rules realized),
i.e. the time until the first verdict. Printed: the process's wall time and its parts.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

_CHILD = """
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
import orjson
from canhgac.pipeline.normalize.windows import from_evtx_json
from canhgac.rules.engine import Engine
from canhgac.rules.loader import load_rules
from canhgac.rules.rule_cache import RuleCache
t1, c1 = time.perf_counter(), time.process_time()
rules, cache_dir, first = sys.argv[1], sys.argv[2], sys.argv[3].encode()
cache = RuleCache(cache_dir) if cache_dir else None
loaded = load_rules([rules], cache=cache)
engine = Engine(loaded.rules)
t2, c2 = time.perf_counter(), time.process_time()
engine.match(from_evtx_json(orjson.loads(first)))
t3, c3 = time.perf_counter(), time.process_time()
print(json.dumps({"imports": t1 - t0, "load": t2 - t1, "first_event": t3 - t2, "rules": len(loaded.rules),
                  "hits": cache.hits if cache else 0, "imports_cpu": c1 - c0, "load_cpu": c2 - c1,
                  "first_event_cpu": c3 - c2}))
"""


def one_run(rules: Path, cache_dir: str, first_event: bytes) -> dict[str, float]:
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(rules), cache_dir, first_event.decode()],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    figures["process"] = time.perf_counter() - started
    return figures


def startup(rules: Path, cache_dir: Path, first_event: bytes, runs: int) -> dict[str, list[dict[str, float]]]:
    """{'cold': [...], 'cached': [...]}, interleaved; the cache is filled by one run first."""
    one_run(rules, str(cache_dir), first_event)
    out: dict[str, list[dict[str, float]]] = {"cold": [], "cached": []}
    for _ in range(runs):
        out["cold"].append(one_run(rules, "", first_event))
        out["cached"].append(one_run(rules, str(cache_dir), first_event))
    return out


def summary(runs: list[dict[str, float]]) -> str:
    def med(key: str) -> float:
        return statistics.median(r[key] for r in runs)

    each = ", ".join(f"{r['process']:.2f}" for r in runs)
    return (
        f"process {med('process'):.2f} s median (runs {each}); "
        f"imports {med('imports'):.2f}, load {med('load'):.2f}, first event {med('first_event') * 1000:.0f} ms; "
        f"CPU: imports {med('imports_cpu'):.2f}, load {med('load_cpu'):.2f}, "
        f"first event {med('first_event_cpu') * 1000:.0f} ms; "
        f"{int(runs[0]['rules'])} rules, {int(runs[0]['hits'])} files from cache"
    )


def main() -> None:
    """Start-up alone: python bench/startup.py [--shared ../shared] [--runs 5]"""
    import argparse
    import os
    import tempfile

    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[1] / ".." / "shared"))
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    conf = Path(a.shared) / "conformance" / "sigmahq"
    first = next(
        line for f in sorted((conf / "dev" / "events").glob("*.ndjson")) for line in f.read_bytes().splitlines() if line
    )
    print(f"machine: {os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as work:
        times = startup(conf / "rules", Path(work) / "cache", first, max(a.runs, 1))
    print(f"start-up cold:   {summary(times['cold'])}")
    print(f"start-up cached: {summary(times['cached'])}")
    print(f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()


__all__ = ["startup", "summary"]
