"""rsigma (a Rust Sigma engine from crates.io) on the same events as bench_sigma.py, rule by rule.

rsigma reads flat JSON objects whose keys are Sigma's field names, as Zircolite's users
pre-flatten evtx records: `System`'s scalars (EventID, Channel, Computer …), `Provider_Name`, and
the `EventData` fields at the top level (names without spaces, as Canhgac's Windows parser keeps
them; `UserData`'s fields when there is no `EventData`). It does not route by logsource: every rule
meets every event, so rules that Canhgac keeps to their log source can fire on other events there.

Found through `--rsigma PATH`, $RSIGMA, `rsigma` on PATH, or the build cached outside the repo
(deploy notes: `cargo install rsigma@0.23.0 --no-default-features --features
rsigma-runtime,daachorse-index --locked`, 0.26 needs a newer rustc than these machines have).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

CACHED_BUILD = Path("/var/tmp/canhgac-cache/rsigma/bin/rsigma")


def find_rsigma(explicit: str | None = None) -> str | None:
    for candidate in (explicit, os.environ.get("RSIGMA"), shutil.which("rsigma"), str(CACHED_BUILD)):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def flatten(line: bytes) -> dict[str, Any]:
    """One evtx_dump JSON record as the flat object rsigma matches Sigma field names against."""
    event = orjson.loads(line).get("Event") or {}
    system = event.get("System") or {}
    flat: dict[str, Any] = {k: v for k, v in system.items() if not isinstance(v, dict | list) and v is not None}
    provider = (system.get("Provider") or {}).get("#attributes") or {}
    if provider.get("Name"):
        flat["Provider_Name"] = provider["Name"]
    data = event.get("EventData")
    if not isinstance(data, dict) or not any(k != "#attributes" for k in data):
        user_data = event.get("UserData")
        data = {}
        if isinstance(user_data, dict):
            for inner in user_data.values():
                if isinstance(inner, dict):
                    data.update(inner)
    for key, value in data.items():
        if key != "#attributes":
            flat[key.replace(" ", "")] = value
    return flat


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False)


def write_ndjson(path: Path, events: Iterable[dict[str, Any]]) -> int:
    count = 0
    with open(path, "wb") as handle:
        for event in events:
            handle.write(orjson.dumps(event) + b"\n")
            count += 1
    return count


@dataclass(slots=True)
class ProcessTime:
    wall: float
    cpu: float  # user + sys of the child


def _pin_one_cpu() -> None:
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})


def run_rsigma(binary: str, rules: Path, events: Path, extra: Sequence[str] = (), stdout: Any = None) -> ProcessTime:
    """One `rsigma engine eval` over a file, pinned to one CPU; its whole-process wall and CPU time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [binary, "engine", "eval", "-r", str(rules), "-e", f"@{events}", "--output-format", "ndjson", *extra],
        stdout=stdout if stdout is not None else subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
        preexec_fn=_pin_one_cpu,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ProcessTime(wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))


def rsigma_matches(binary: str, rules: Path, events: Path, titles: dict[str, str]) -> dict[str, list[str]]:
    """Canonical event text -> the rule ids rsigma matched on it (one run with --include-event);
    the titles of the rules it names are added to `titles` where missing."""
    out = events.with_suffix(".matches")
    with open(out, "wb") as handle:
        run_rsigma(binary, rules, events, ["--include-event"], stdout=handle)
    per_event: dict[str, list[str]] = {}
    with open(out, "rb") as handle:
        for line in handle:
            if line.strip():
                match = orjson.loads(line)
                rule_id = str(match.get("rule_id"))
                titles.setdefault(rule_id, str(match.get("rule_title")))
                per_event.setdefault(canonical(match.get("event")), []).append(rule_id)
    out.unlink()
    return per_event


@dataclass(slots=True)
class Figures:
    startup: list[ProcessTime]
    full: list[ProcessTime]
    events: int

    def rate(self, clock: str) -> list[float]:
        """events/s per run: the stream's time less the median start-up (loading the rules)."""
        base = statistics.median(getattr(t, clock) for t in self.startup)
        return [self.events / max(getattr(t, clock) - base, 1e-9) for t in self.full]


def measure(binary: str, rules: Path, workdir: Path, flat_events: list[dict[str, Any]], runs: int) -> Figures:
    empty = workdir / "empty.ndjson"
    empty.write_bytes(b"")
    stream = workdir / "stream.ndjson"
    count = write_ndjson(stream, flat_events)
    startup, full = [], []
    for _ in range(runs):  # interleaved, so a busy moment hits both alike
        startup.append(run_rsigma(binary, rules, empty))
        full.append(run_rsigma(binary, rules, stream))
    return Figures(startup, full, count)


def compare(
    canhgac_per_event: Sequence[Sequence[str]],
    rsigma_per_event: dict[str, list[str]],
    flat_events: Sequence[dict[str, Any]],
    titles: dict[str, str],
) -> list[tuple[str, str, int, int, int]]:
    """Rules where the two engines disagree: (id, title, canhgac count, rsigma count, both)."""
    ours: Counter[str] = Counter()
    theirs: Counter[str] = Counter()
    both: Counter[str] = Counter()
    for mine, flat in zip(canhgac_per_event, flat_events, strict=True):
        other = set(rsigma_per_event.get(canonical(flat), ()))
        mine_set = set(mine)
        ours.update(mine_set)
        theirs.update(other)
        both.update(mine_set & other)
    rows = [
        (rule_id, titles.get(rule_id, "?"), ours[rule_id], theirs[rule_id], both[rule_id])
        for rule_id in sorted(set(ours) | set(theirs))
        if not (ours[rule_id] == theirs[rule_id] == both[rule_id])
    ]
    return sorted(rows, key=lambda r: (-abs(r[2] - r[3]) - (r[2] - r[4]) - (r[3] - r[4]), r[1]))


__all__ = ["Figures", "canonical", "compare", "find_rsigma", "flatten", "measure", "rsigma_matches"]
