"""Detection engine benchmark: whole SigmaHQ corpus over Windows event streams, one core.

    python bench/bench_sigma.py [--shared ../shared] [--seconds 5]

Streams are raw evtx_dump JSON lines. Two timed loops: "parse + match" = the Windows parser with
its ECS mapping on the record's JSON text (windows.from_evtx_text, what the normaliser runs on a
record that arrives as text: read and mapped natively by native/src/json.rs and windows.rs when
canhgac_native is built, else orjson and the Python mapping) and Engine.match; "detector stage" = what the detector
process does per already-normalized event (the normaliser runs the Windows parser):
Engine.match_json on its bytes, and orjson + Engine.match when that hands the event back or it
matched (the detector decodes matched events to build alerts) — for the Python engine, which has
no byte path, orjson + Engine.match on every event. Each is timed for the engine as built (the native routes of
rules/native.py when canhgac_native is installed) and for the Python engine alone (baseline). "realistic" = conformance events plus 20 benign variants of each (fields
rewritten to ordinary values, mostly matching nothing); "attack-dense" = conformance events
repeated; "+1KB CommandLine" = the realistic stream with 1 KB of ordinary option text appended to
every CommandLine. The straightforward evaluator runs every applicable rule on every event; both
must return identical matches. `--runs 5` times each stream five times and prints the median.

Then, each in fresh processes, median of `--compare-runs` (5): start-up cold vs from the
compiled-rule cache (startup.py), and, when rsigma is found (rsigma_compare.py: --rsigma, $RSIGMA,
PATH, the cached build), rsigma on the same events pre-flattened — its rate and start-up beside
Canhgac's in wall and CPU time — and the rules on which the two engines' matches differ.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from canhgac.pipeline.normalize.windows import evtx_event_python, from_evtx_json, from_evtx_text
from canhgac.rules.engine import Engine
from canhgac.rules.loader import load_rules
from canhgac.rules.model import CompiledRule

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rsigma_compare
import startup

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


def detector_stage(engine: Engine, line: bytes) -> list[Any]:
    """The detector's per-event work (pipeline/detector.py process, without Kafka and alerts)."""
    found = engine.match_json(line)
    if found is None or found:
        event = orjson.loads(line)
        if found is None:
            found = engine.match(event)
    return found


def run(
    engine: Engine, lines: list[bytes], seconds: float, naive: bool = False, normalized: bool = False
) -> tuple[float, float]:
    """(events/s, p99 µs) of parse + match, or of the detector stage when `lines` are normalized
    events (`normalized`)."""
    match = engine.match_all_applicable if naive else engine.match
    count, per_event = 0, []
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < deadline:
        if normalized:
            for line in lines:
                t0 = time.perf_counter()
                detector_stage(engine, line)
                per_event.append(time.perf_counter() - t0)
        else:
            for line in lines:
                t0 = time.perf_counter()
                match(from_evtx_text(line))
                per_event.append(time.perf_counter() - t0)
        count += len(lines)
    took = time.perf_counter() - start
    per_event.sort()
    return count / took, per_event[int(len(per_event) * 0.99)] * 1e6


def parse_cost(lines: list[bytes], seconds: float, parse: Any = from_evtx_text) -> float:
    """µs per event spent in the Windows parser alone (part of every parse + match loop)."""
    count, deadline, start = 0, time.perf_counter() + seconds, time.perf_counter()
    while time.perf_counter() < deadline:
        for line in lines:
            parse(line)
        count += len(lines)
    return (time.perf_counter() - start) / count * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[1] / ".." / "shared"))
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--runs", type=int, default=1, help="timed runs per stream (the median is reported)")
    ap.add_argument("--compare-runs", type=int, default=5, help="runs per start-up and rsigma figure (median)")
    ap.add_argument("--rsigma", help="rsigma binary (else $RSIGMA, PATH, the cached build)")
    ap.add_argument("--no-rsigma", action="store_true")
    ap.add_argument("--no-startup", action="store_true", help="skip start-up cold vs cached")
    a = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    conf = Path(a.shared) / "conformance" / "sigmahq"
    t0 = time.perf_counter()
    loaded = load_rules([conf / "rules"])
    load_secs = time.perf_counter() - t0
    rss_after_load = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    engine = Engine(loaded.rules)
    python_engine = Engine(loaded.rules, native=False)
    kind = "native routes (canhgac_native)" if engine.native else "Python (canhgac_native not built)"
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

    # identical matches: the engine as built, the Python engine and the straightforward evaluator
    for line in realistic + long_text:
        ev = from_evtx_json(orjson.loads(line))
        assert from_evtx_text(line) == ev == evtx_event_python(orjson.loads(line))
        expected = [m.id for m in python_engine.match_all_applicable(ev)]
        assert [m.id for m in engine.match(ev)] == expected
        if engine.native:  # the detector's byte path: no event handed back to the Python engine
            found = engine.match_json(orjson.dumps(ev))
            assert found is not None and [m.id for m in found] == expected
        assert [m.id for m in python_engine.match(ev)] == expected
    print(
        f"rules: {len(loaded.rules)} loaded, {len(loaded.rejected)} rejected; load {load_secs:.1f}s; "
        f"max RSS after load {rss_after_load:.0f} MiB; engine: {kind}"
    )
    for name, lines in (("realistic", realistic), ("attack-dense", attack), ("+1KB CommandLine", long_text)):
        normalized = [orjson.dumps(from_evtx_json(orjson.loads(line))) for line in lines]
        figures = []
        for which in (engine, python_engine):
            which.match(from_evtx_json(orjson.loads(lines[0])))  # warm route caches
            for is_normalized, stream in ((False, lines), (True, normalized)):
                runs = sorted(
                    (run(which, stream, a.seconds, normalized=is_normalized) for _ in range(a.runs)),
                    key=lambda r: r[0],
                )
                figures.append((runs[len(runs) // 2], [r for r, _ in runs]))
        naive_rate, _ = run(engine, lines, a.seconds, naive=True)
        (rate, p99), rates = figures[0]
        (stage, stage_p99), stage_rates = figures[1]
        (py_rate, _), _ = figures[2]
        (py_stage, _), _ = figures[3]
        each = f" (runs: {' / '.join(f'{r:,.0f}' for r in rates)}; median)" if a.runs > 1 else ""
        stage_each = f" (runs: {' / '.join(f'{r:,.0f}' for r in stage_rates)})" if a.runs > 1 else ""
        print(
            f"{name:13s} {len(loaded.rules)} rules: parse + match {rate:,.0f} ev/s{each}, p99 {p99:.0f} us; "
            f"detector stage {stage:,.0f} ev/s{stage_each}, p99 {stage_p99:.0f} us; Python engine: parse + match "
            f"{py_rate:,.0f}, detector stage {py_stage:,.0f} ev/s; straightforward {naive_rate:,.0f} ev/s; "
            f"speed-up over the Python engine {rate / py_rate:.1f}x (parse + match), {stage / py_stage:.1f}x (stage)"
        )
    print(
        f"of which parsing (the Windows parser from the text): {parse_cost(realistic, a.seconds / 3):.1f} us/event; "
        "orjson + the mapping from the dict: "
        f"{parse_cost(realistic, a.seconds / 3, lambda line: from_evtx_json(orjson.loads(line))):.1f}; "
        "orjson + the Python mapping: "
        f"{parse_cost(realistic, a.seconds / 3, lambda line: evtx_event_python(orjson.loads(line))):.1f}"
    )
    rng = random.Random(1)
    for size in (100, 1000):
        subset = Engine(rng.sample(loaded.rules, size))
        for name, lines in (("realistic", realistic), ("attack-dense", attack)):
            rate, p99 = run(subset, lines, a.seconds)
            print(f"{name:13s} {size} rules: {rate:,.0f} ev/s, p99 {p99:.0f} us")
    print(f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    runs = max(a.compare_runs, 1)
    with tempfile.TemporaryDirectory(prefix="bench-sigma-") as work:
        if not a.no_startup:
            times = startup.startup(conf / "rules", Path(work) / "cache", realistic[0], runs)
            print(f"start-up cold:   {startup.summary(times['cold'])}")
            print(f"start-up cached: {startup.summary(times['cached'])}")
        binary = None if a.no_rsigma else rsigma_compare.find_rsigma(a.rsigma)
        if binary is None:
            print("rsigma: not found (--rsigma, $RSIGMA, PATH or the cached build); skipped")
        else:
            versus_rsigma(binary, conf / "rules", Path(work), engine, realistic, attack, loaded.rules, a.seconds, runs)
    print(f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def cpu_rate(engine: Engine, lines: list[bytes], seconds: float, normalized: bool = False) -> tuple[float, float]:
    """(events/s wall, events/s of process CPU time) of the timed loop (the detector stage's when
    `lines` are normalized events)."""
    count, deadline = 0, time.perf_counter() + seconds
    start, cpu_start = time.perf_counter(), time.process_time()
    while time.perf_counter() < deadline:
        if normalized:
            for line in lines:
                detector_stage(engine, line)
        else:
            for line in lines:
                engine.match(from_evtx_text(line))
        count += len(lines)
    return count / (time.perf_counter() - start), count / (time.process_time() - cpu_start)


def _runs(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f} ev/s median ({' / '.join(f'{v:,.0f}' for v in values)})"


def versus_rsigma(
    binary: str,
    rules_dir: Path,
    work: Path,
    engine: Engine,
    realistic: list[bytes],
    attack: list[bytes],
    rules: list[CompiledRule],
    seconds: float,
    runs: int,
) -> None:
    """rsigma and Canhgac in turn on each stream; then the rules whose matches differ."""
    flat_realistic = [rsigma_compare.flatten(line) for line in realistic]
    for name, lines in (("realistic", realistic), ("attack-dense", attack)):
        flat = flat_realistic if lines is realistic else [rsigma_compare.flatten(line) for line in lines]
        repeat = max(1, 50_000 // len(flat))  # the stream, not loading the rules, takes most of a run
        figures = rsigma_compare.measure(binary, rules_dir, work, flat * repeat, runs)
        ours = [cpu_rate(engine, lines, seconds) for _ in range(runs)]
        normalized = [orjson.dumps(from_evtx_json(orjson.loads(line))) for line in lines]
        stage = [cpu_rate(engine, normalized, seconds, normalized=True) for _ in range(runs)]
        print(
            f"{name}: rsigma {_runs(figures.rate('wall'))} wall, {_runs(figures.rate('cpu'))} CPU "
            f"({figures.events:,} pre-flattened events a run, less its start-up: "
            f"{statistics.median(t.wall for t in figures.startup):.2f} s wall, "
            f"{statistics.median(t.cpu for t in figures.startup):.2f} s CPU); "
            f"Canhgac parse + match {_runs([w for w, _ in ours])} wall, {_runs([c for _, c in ours])} CPU; "
            f"Canhgac detector stage (normalized events) {_runs([w for w, _ in stage])} wall, "
            f"{_runs([c for _, c in stage])} CPU"
        )
    ours_per_event = [[m.id for m in engine.match(from_evtx_json(orjson.loads(line)))] for line in realistic]
    stream = work / "compare.ndjson"
    rsigma_compare.write_ndjson(stream, flat_realistic)
    titles = {r.meta.id: r.meta.title for r in rules}
    theirs = rsigma_compare.rsigma_matches(binary, rules_dir, stream, titles)
    rows = rsigma_compare.compare(ours_per_event, theirs, flat_realistic, titles)
    theirs_total = sum(len(set(theirs.get(rsigma_compare.canonical(f), ()))) for f in flat_realistic)
    print(
        f"matches on the realistic stream ({len(realistic):,} events): Canhgac {sum(map(len, ours_per_event)):,}, "
        f"rsigma {theirs_total:,}; rules on which they differ: {len(rows)}"
    )
    print("| rule | title | Canhgac | rsigma | both |")
    print("| --- | --- | --- | --- | --- |")
    for rule_id, title, ours_count, theirs_count, both in rows:
        print(f"| {rule_id} | {title} | {ours_count} | {theirs_count} | {both} |")


if __name__ == "__main__":
    main()
