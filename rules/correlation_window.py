"""Windowed state of one correlation rule for one group, and the search for a window that fires.

Times are integer microseconds since the epoch, so a checkpoint restores them exactly.

Two kinds of condition (see docs/correlation.md):
- growing (`gt`, `gte`, temporal with every rule, expressions without `not`): matches wait as
  *entries* until some span shorter than the timespan satisfies the condition; that opens a *window*
  [start, start + timespan) anchored at the span's first match, which fires at once and absorbs every
  later match it covers (each one re-emits the same alert, updated).
- the rest (`lt`, `lte`, `eq`, `neq`, expressions with `not`): the first match opens a window,
  matches are counted in it, and the condition is decided once the window can no longer change.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field
from typing import Any

import orjson
from canhgac.rules.correlation_spec import (
    EVENT_COUNT,
    METRIC_TYPES,
    TEMPORAL_ORDERED,
    VALUE_AVG,
    VALUE_MEDIAN,
    VALUE_PERCENTILE,
    VALUE_SUM,
    CorrelationSpec,
)

# (timestamp µs, arrival sequence, distinct key or None, contributing event ids, their agencies); the
# sequence keeps matches with the same timestamp in arrival order and makes every entry unique.
Entry = tuple[int, int, Any, tuple[str, ...], tuple[str, ...]]

MAX_EVENT_IDS = 100  # per alert; the count keeps going past it


@dataclass(frozen=True, slots=True)
class Limits:
    max_entries_per_group: int
    max_values_per_window: int
    # A metric type (value_sum …): the entry key is the field's number, summed and sampled.
    metric: bool = False


@dataclass(slots=True)
class Window:
    start: int
    end: int
    first_seen: int
    last_seen: int
    events: int = 0
    keys: dict[Any, None] = field(default_factory=dict)  # distinct values or rule positions, in order
    event_ids: list[str] = field(default_factory=list)
    agencies: dict[str, None] = field(default_factory=dict)  # agencies of the matches, in order
    # Metric types: the sum of the values (exact) and the values themselves, at most
    # max_values_per_window of them (past it a uniform reservoir sample, for median/percentile).
    total: float = 0.0
    samples: list[float] = field(default_factory=list)

    def absorb(self, entry: Entry, limits: Limits) -> None:
        ts, _seq, key, event_ids, agencies = entry
        for agency in agencies:
            self.agencies[agency] = None
        self.events += 1
        self.first_seen = min(self.first_seen, ts)
        self.last_seen = max(self.last_seen, ts)
        if limits.metric:
            self._sample(float(key), limits.max_values_per_window)
        elif key is not None and len(self.keys) < limits.max_values_per_window:
            self.keys[key] = None
        room = MAX_EVENT_IDS - len(self.event_ids)
        if room > 0:
            self.event_ids.extend(e for e in event_ids[:room] if e not in self.event_ids)

    def _sample(self, value: float, room: int) -> None:
        self.total += value
        if len(self.samples) < room:
            self.samples.append(value)
            return
        # Reservoir sampling (algorithm R), seeded by the window so a replay keeps the same sample.
        slot = random.Random(self.start * 1_000_003 + self.events).randrange(self.events)
        if slot < room:
            self.samples[slot] = value

    def metric(self, kind: str, percentile: int | None) -> float:
        """The aggregate a metric type's condition compares."""
        if kind == VALUE_SUM:
            return self.total
        if kind == VALUE_AVG:
            return self.total / self.events if self.events else 0.0
        if kind == VALUE_MEDIAN:
            return quantile(self.samples, 50)
        if kind == VALUE_PERCENTILE and percentile is not None:
            return quantile(self.samples, percentile)
        raise ValueError(f"{kind} is not a metric type")

    def to_json(self) -> list[Any]:
        return [
            self.start,
            self.end,
            self.first_seen,
            self.last_seen,
            self.events,
            list(self.keys),
            self.event_ids,
            list(self.agencies),
            self.total,
            self.samples,
        ]

    @classmethod
    def from_json(cls, raw: list[Any]) -> Window:
        start, end, first, last, events, keys, event_ids, agencies, *metric = raw
        total, samples = metric if metric else (0.0, [])  # windows checkpointed before the metric types
        return cls(
            start,
            end,
            first,
            last,
            events,
            dict.fromkeys(keys),
            list(event_ids),
            dict.fromkeys(agencies),
            float(total),
            [float(v) for v in samples],
        )


def quantile(values: list[float], percent: int) -> float:
    """The `percent`-th percentile by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan  # no value: every comparison is false
    ordered = sorted(values)
    rank = (len(ordered) - 1) * percent / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(slots=True)
class Group:
    values: list[Any]  # the group-by values, in group-by order
    entries: list[Entry] = field(default_factory=list)  # sorted; all at or after the last window's end
    windows: list[Window] = field(default_factory=list)  # sorted, disjoint; still open to late events
    # Derived from entries, not checkpointed: each key's latest (ts, seq), so counting the distinct
    # keys of the newest span costs the number of keys, not the number of waiting matches.
    latest: dict[Any, tuple[int, int]] = field(default_factory=dict)
    # What was counted, by "event id + key" -> event time: a match delivered twice (a detector
    # replica killed after publishing, before committing its input, publishes it again) is
    # counted once. Checkpointed; trimmed with the entries, and bounded.
    counted: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for ts, seq, key, _ids, _agencies in self.entries:
            self.latest[key] = max(self.latest.get(key, (ts, seq)), (ts, seq))

    def is_empty(self) -> bool:
        return not self.entries and not self.windows

    def insert(self, entry: Entry) -> None:
        bisect.insort(self.entries, entry)
        ts, seq, key, _ids, _agencies = entry
        self.latest[key] = max(self.latest.get(key, (ts, seq)), (ts, seq))

    def drop_first(self, count: int) -> None:
        """Entries leave from the front only, so a key whose latest entry leaves has none left."""
        for ts, seq, key, _ids, _agencies in self.entries[:count]:
            if self.latest.get(key) == (ts, seq):
                del self.latest[key]
        del self.entries[:count]

    def to_json(self) -> list[Any]:
        """The group for the checkpoint, holding the live entries: encode it before anything changes.
        orjson writes the entry tuples as arrays by itself; copying each into a list first was half
        the checkpoint's time in a province run (the same bytes, 4.5x slower)."""
        return [self.values, self.entries, [w.to_json() for w in self.windows], self.counted]

    @classmethod
    def from_json(cls, raw: list[Any]) -> Group:
        values, entries, windows, *counted = raw  # groups checkpointed before `counted` lack it
        return cls(
            list(values),
            [(ts, seq, key, tuple(ids), tuple(agencies)) for ts, seq, key, ids, agencies in entries],
            [Window.from_json(w) for w in windows],
            counted={str(k): int(v) for k, v in (counted[0] if counted else {}).items()},
        )

    def first_count(self, entry: Entry, bound: int) -> bool:
        """Note the entry's events as counted; False when every one of them already was."""
        ts, _seq, key, event_ids, _agencies = entry
        if not event_ids:
            return True  # no id to recognise a repeat by: counted, as before
        suffix = "\x1f" + orjson.dumps(key, default=str).decode()
        marks = [event_id + suffix for event_id in event_ids]
        if all(mark in self.counted for mark in marks):
            return False
        for mark in marks:
            self.counted[mark] = ts
        while len(self.counted) > bound:
            del self.counted[next(iter(self.counted))]
        return True

    def forget_counted_before(self, cutoff: int) -> None:
        """Drop what no admissible match can repeat (oldest noted first; stops at a newer one)."""
        while self.counted:
            mark, ts = next(iter(self.counted.items()))
            if ts > cutoff:
                return
            del self.counted[mark]


def _ts(entry: Entry) -> int:
    return entry[0]


class WindowLogic:
    """The rule-specific part: where a match goes, and when a window fires or closes."""

    def __init__(self, spec: CorrelationSpec, limits: Limits) -> None:
        self.spec = spec
        self.limits = limits
        self.eager = spec.condition.eager
        self._span = spec.timespan_us
        self._last_position = len(spec.targets) - 1
        self.evicted_entries = 0  # oldest waiting matches dropped by max_entries_per_group
        self.repeated_matches = 0  # matches of an event already counted in the group, not counted again

    def count(self, window: Window) -> float:
        """What the condition compares: events, distinct keys, or a metric type's aggregate."""
        if self.spec.type in METRIC_TYPES:
            return window.metric(self.spec.type, self.spec.percentile)
        return window.events if self.spec.type == EVENT_COUNT else len(window.keys)

    def add(self, group: Group, entry: Entry) -> tuple[Window, bool] | None:
        """Place one match. Returns (window, is_new) when an alert is due now."""
        ts = entry[0]
        if not group.first_count(entry, 4 * self.limits.max_entries_per_group):
            self.repeated_matches += 1
            return None
        for window in group.windows:
            # The first window ending after `ts` covers it, or is the next one after a gap; a late
            # match in a gap joins that next window rather than opening an overlapping one.
            if ts < window.end:
                window.absorb(entry, self.limits)
                return (window, False) if self.eager else None
        if not self.eager:
            window = Window(start=ts, end=ts + self._span, first_seen=ts, last_seen=ts)
            window.absorb(entry, self.limits)
            group.windows.append(window)
            return None
        group.insert(entry)
        if len(group.entries) > self.limits.max_entries_per_group:
            group.drop_first(1)
            self.evicted_entries += 1
        opened = self._search(group, ts)
        return (opened, True) if opened is not None else None

    def _search(self, group: Group, ts: int) -> Window | None:
        """Only windows holding the new match can have changed; try them by their last match."""
        entries = group.entries
        j = bisect.bisect_left(entries, ts, key=_ts)
        while j < len(entries) and entries[j][0] < ts + self._span:
            start = self._satisfied_ending_at(group, j)
            if start is not None:
                return self._open(group, start)
            j += 1
        return None

    def _satisfied_ending_at(self, group: Group, j: int) -> int | None:
        """Index of the first match of a satisfying span that ends at entries[j], if any."""
        entries = group.entries
        lo = bisect.bisect_right(entries, entries[j][0] - self._span, key=_ts)
        if self.spec.type == TEMPORAL_ORDERED:
            if entries[j][2] != self._last_position:
                return None
            # Walking back from the last rule and taking the latest earlier match of each rule
            # finds the shortest ordered chain ending here, if any. The window then starts, as for
            # the counting types, at the first match within the timespan, so it shows the context
            # (e.g. every emission of an inner correlation) and not only the chain.
            need = self._last_position - 1
            for i in range(j - 1, lo - 1, -1):
                if need < 0:
                    break
                if entries[i][2] == need:
                    need -= 1
            return lo if need < 0 else None
        if self.spec.type == EVENT_COUNT:
            return lo if self.spec.condition.holds(j - lo + 1, set()) else None
        if j == len(entries) - 1:  # the usual, in-order case
            seen = {k for k, (ts, _seq) in group.latest.items() if ts > entries[j][0] - self._span}
        else:
            seen = {e[2] for e in entries[lo : j + 1]}
        return lo if self.spec.condition.holds(len(seen), seen) else None

    def _open(self, group: Group, first: int) -> Window:
        entries = group.entries
        start = entries[first][0]
        window = Window(start=start, end=start + self._span, first_seen=start, last_seen=start)
        k = first
        while k < len(entries) and entries[k][0] < window.end:
            window.absorb(entries[k], self.limits)
            k += 1
        # Matches before the span belong to no satisfying window (the search tried them already),
        # and those after the window wait for the next one.
        group.drop_first(k)
        group.windows.append(window)
        return window

    def expire(self, group: Group, horizon: int) -> list[Window]:
        """Close windows no admissible event can reach (all before `horizon`); return those that fire."""
        fired = []
        while group.windows and group.windows[0].end <= horizon:
            window = group.windows.pop(0)
            if not self.eager and self.spec.condition.holds(self.count(window), window.keys):
                fired.append(window)
        cut = bisect.bisect_right(group.entries, horizon - self._span, key=_ts)
        if cut:
            group.drop_first(cut)
        group.forget_counted_before(horizon - self._span)
        return fired
