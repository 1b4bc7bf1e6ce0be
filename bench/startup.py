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
t0 = time.perf_counter()
import orjson
from canhgac.pipeline.normalize.windows import from_evtx_json
from canhgac.rules.engine import Engine
from canhgac.rules.loader import load_rules
from canhgac.rules.rule_cache import RuleCache
t1 = time.perf_counter()
rules, cache_dir, first = sys.argv[1], sys.argv[2], sys.argv[3].encode()
cache = RuleCache(cache_dir) if cache_dir else None
loaded = load_rules([rules], cache=cache)
engine = Engine(loaded.rules)
t2 = time.perf_counter()
engine.match(from_evtx_json(orjson.loads(first)))
t3 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "load": t2 - t1, "first_event": t3 - t2, "rules": len(loaded.rules),
                  "hits": cache.hits if cache else 0}))
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
        f"{int(runs[0]['rules'])} rules, {int(runs[0]['hits'])} files from cache"
    )


__all__ = ["startup", "summary"]
