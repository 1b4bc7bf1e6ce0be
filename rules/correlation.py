"""Sigma correlation rules (event_count, value_count, temporal, temporal_ordered and the Sigma 2.1
metric types value_sum, value_avg, value_median, value_percentile) on the event stream.

The single-event engine tells us, per event, which base rules matched; this engine keeps windowed
state per (correlation rule, group) and returns alerts. Semantics, limits and the checkpoint format
are described in docs/correlation.md; the window mechanics live in correlation_window.py and the
compilation of pySigma rules in correlation_spec.py.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson
from canhgac.core.alert import SOC_AGENCY
from canhgac.core.errors import ConfigError, RuleError
from canhgac.core.event import Event, get_path
from canhgac.core.ids import derived_id
from canhgac.rules.correlation_routing import Feed, Route, Router
from canhgac.rules.correlation_spec import (
    METRIC_TYPES,
    TEMPORAL,
    TEMPORAL_ORDERED,
    VALUE_COUNT,
    CorrelationSpec,
    compile_rule,
    evaluation_order,
    keys_of,
)
from canhgac.rules.correlation_window import Group, Limits, Window, WindowLogic
from sigma.correlations import SigmaCorrelationRule

# 2: group keys carry the agency and windows their agencies; a version 1 checkpoint is discarded.
CHECKPOINT_VERSION = 2
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


class RuleLike(Protocol):
    """What the single-event engine reports for each base rule an event matched."""

    @property
    def id(self) -> object: ...
    @property
    def name(self) -> str | None: ...
    @property
    def title(self) -> str: ...


# (event, Sigma field name) -> value or None; the detector can pass its own field mapping.
FieldResolver = Callable[[Event, str], Any]


def resolve_field(event: Event, name: str) -> Any:
    """ECS dotted path first, then the Windows spelling Winlogbeat keeps (`winlog.event_data.<Name>`)."""
    value = get_path(event, name)
    return get_path(event, f"winlog.event_data.{name}") if value is None else value


def _to_us(ts: datetime) -> int:
    if ts.tzinfo is None:  # the event contract's @timestamp is UTC
        ts = ts.replace(tzinfo=UTC)
    return (ts - _EPOCH) // _ONE_US


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _value_key(values: Sequence[Any]) -> Any:
    """A hashable, JSON-stable key for distinct counting (bools are spelled out: True == 1)."""
    if len(values) == 1 and isinstance(values[0], str | int | float) and not isinstance(values[0], bool):
        return values[0]
    return orjson.dumps(list(values), option=orjson.OPT_SORT_KEYS, default=str).decode()


def _number(value: Any) -> float | None:
    """A metric type's value: a number, or text that reads as a finite one; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True, slots=True)
class CorrelationAlert:
    id: str  # rule + agency + group + window start: re-emitting it (an update, a replay) upserts one alert
    rule_id: str
    rule_name: str | None
    title: str
    level: str | None
    author: str | None
    tags: tuple[str, ...]
    references: tuple[str, ...]
    description: str | None
    type: str
    group: Mapping[str, Any]  # group-by name -> value
    window_start: datetime
    window_end: datetime
    first_seen: datetime
    last_seen: datetime
    count: int  # events, distinct values or distinct rules matched (metric types: the events)
    event_count: int  # matches counted into the window
    event_ids: tuple[str, ...]  # the first MAX_EVENT_IDS contributing `event.id`s
    is_update: bool  # an earlier emission of this id exists; notifiers need not send it again
    # The owner: the agency of the group's events, or SOC_AGENCY for a cross-agency rule.
    agency: str | None = None
    agencies: tuple[str, ...] = ()  # agencies whose events are in the window
    cross_agency: bool = False
    # Raised on the late path: from events older than the watermark minus the allowed lateness.
    late: bool = False
    value: float | None = None  # metric types: the aggregate the condition compared (sum, avg …)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "agency": self.agency,
            "agencies": list(self.agencies),
            "rule": {
                "id": self.rule_id,
                "name": self.rule_name,
                "title": self.title,
                "level": self.level,
                "author": self.author,
                "tags": list(self.tags),
                "references": list(self.references),
                "description": self.description,
            },
            "correlation": {
                "type": self.type,
                "group": dict(self.group),
                "window_start": self.window_start.isoformat(),
                "window_end": self.window_end.isoformat(),
                "cross_agency": self.cross_agency,
                "late": self.late,
                "value": self.value,
            },
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "count": self.count,
            "event_count": self.event_count,
            "event_ids": list(self.event_ids),
            "is_update": self.is_update,
        }


@dataclass(slots=True)
class CorrelationStats:
    """Counters since start (not checkpointed); every match not counted into a window has a reason."""

    events_observed: int = 0
    matches: int = 0  # (referenced rule, event) pairs counted into some group
    # Relevant events older than the watermark minus the allowed lateness: not dropped, they go
    # to the late path (its own windows), whose alerts say `late`.
    late_events: int = 0
    missing_field: int = 0  # matches without a group-by or value_count field
    evicted_groups: int = 0  # oldest groups dropped by max_groups_per_rule
    evicted_entries: int = 0  # oldest waiting matches dropped by max_entries_per_group
    repeated_matches: int = 0  # a match of an event the group had already counted (a redelivery)
    alerts_new: int = 0
    alerts_updated: int = 0
    alerts_suppressed: int = 0  # fired by correlations only used inside others (generate: false)
    restore_discarded_rules: int = 0  # checkpointed rules that are gone or whose definition changed


@dataclass(frozen=True, slots=True)
class _Feed:
    position: int  # which of the correlation's referenced rules matched
    event_ids: tuple[str, ...]
    agencies: tuple[str, ...]  # of those events (one, or none when the event carries no agency)
    inner_group: Mapping[str, Any] | None = None  # set when the match is another correlation's alert


class CorrelationEngine:
    def __init__(
        self,
        specs: Sequence[CorrelationSpec],
        *,
        max_groups_per_rule: int = 100_000,
        allowed_lateness_secs: int = 60,
        max_entries_per_group: int = 10_000,
        max_values_per_window: int = 10_000,
        resolver: FieldResolver = resolve_field,
        late_path: bool = False,
    ) -> None:
        if max_groups_per_rule < 1 or allowed_lateness_secs < 0:
            raise ConfigError("max_groups_per_rule must be >= 1 and allowed_lateness_secs >= 0")
        self._specs = list(specs)
        self._order = evaluation_order(self._specs)
        self._logic = [
            WindowLogic(spec, Limits(max_entries_per_group, max_values_per_window, spec.type in METRIC_TYPES))
            for spec in self._specs
        ]
        self._groups: list[OrderedDict[str, Group]] = [OrderedDict() for _ in self._specs]
        self._max_groups = max_groups_per_rule
        self._lateness_us = allowed_lateness_secs * 1_000_000
        self._resolve = resolver
        self._options = {
            "max_groups_per_rule": max_groups_per_rule,
            "allowed_lateness_secs": allowed_lateness_secs,
            "max_entries_per_group": max_entries_per_group,
            "max_values_per_window": max_values_per_window,
            "resolver": resolver,
        }
        # Event time: each source partition's newest @timestamp (and the wall clock when it was
        # seen, so an idle partition's time can follow the clock). An event is late against its
        # own partition's time only, so a partition behind the others (a backlog) is not late;
        # windows close by the slowest partition's time (the watermark), never below `_floor`
        # (what advance(), idle() or a restored checkpoint decided).
        self._partition_marks: dict[int | None, int] = {}
        self._partition_seen: dict[int | None, float] = {}
        self._floor: int | None = None
        self._watermark: int | None = None
        # The late path: the same rules over the events that came too late for the main windows.
        # It admits every event (nothing vanishes) and marks its alerts late.
        self._is_late_path = late_path
        self._late: CorrelationEngine | None = None
        self._late_by_rule: dict[str, int] = {}
        self._seq = 0
        self._stats = CorrelationStats()
        self._base_index: dict[str, set[tuple[int, int]]] = {}  # base rule key -> (spec, position)
        self._nested_index: list[list[tuple[int, int]]] = [[] for _ in self._specs]  # inner -> outers
        self._generate_by_key: dict[str, bool] = {}
        self._emits: list[bool] = []  # per spec: whether its alerts leave the engine
        self._link()

    @classmethod
    def from_sigma(cls, rules: Iterable[SigmaCorrelationRule], **options: Any) -> CorrelationEngine:
        rules = list(rules)
        correlation_keys = {k for r in rules for k in keys_of(r.id, r.name)}
        return cls([compile_rule(r, correlation_keys) for r in rules], **options)

    def _link(self) -> None:
        by_key = {k: i for i, spec in enumerate(self._specs) for k in spec.lookup_keys}
        for ci, spec in enumerate(self._specs):
            for pos, target in enumerate(spec.targets):
                for k in target:
                    self._generate_by_key[k] = self._generate_by_key.get(k, False) or spec.generate
                inner = next((by_key[k] for k in target if k in by_key), None)
                if inner is None:
                    for k in target:
                        self._base_index.setdefault(k, set()).add((ci, pos))
                    continue
                if self._specs[inner].cross_agency and not spec.cross_agency:
                    raise RuleError(
                        f"correlation rule {spec.title!r} stays within one agency but references "
                        f"{self._specs[inner].title!r}, which spans agencies (canhgac.cross_agency)",
                        reason="unsupported_nesting",
                    )
                if not self._specs[inner].condition.eager:
                    # Such an inner alert only exists after its window closed, by then the
                    # outer correlation's window has moved on; no ordering would be honest.
                    raise RuleError(
                        f"correlation rule {spec.title!r} references {self._specs[inner].title!r}, "
                        "whose condition is decided only at window end",
                        reason="unsupported_nesting",
                    )
                self._nested_index[inner].append((ci, pos))
        self._emits = [self._generates(spec.lookup_keys) for spec in self._specs]
        self._router = Router(self._specs, self._nested_index, self._resolve)

    def emits_own_alerts(self, rule: RuleLike) -> bool:
        """False when every correlation referencing the rule says `generate: false` (the default).

        pySigma silences a rule as soon as one referencing correlation says false; we keep its
        alerts while any referencing correlation asks for them, so no wanted alert is lost.
        """
        return self._generates(keys_of(rule.id, rule.name))

    def _generates(self, keys: Iterable[str]) -> bool:
        flags = [self._generate_by_key[k] for k in keys if k in self._generate_by_key]
        return not flags or any(flags)

    @property
    def has_rules(self) -> bool:
        return bool(self._specs)

    def routes(self, event: Event, matched: Sequence[RuleLike]) -> list[Route]:
        """Where this event's matches are counted when correlation is partitioned (see
        correlation_routing.py): one route per key, each naming the feeds counted under it."""
        feeds = sorted(set().union(*(self._base_index.get(k, ()) for r in matched for k in keys_of(r.id, r.name))))
        if not feeds:
            return []
        agency = get_path(event, "canhgac.agency")
        return self._router.routes(event, feeds, str(agency) if isinstance(agency, str) and agency else None)

    def stats(self) -> CorrelationStats:
        evicted = sum(logic.evicted_entries for logic in self._logic)
        repeated = sum(logic.repeated_matches for logic in self._logic)
        return dataclasses.replace(self._stats, evicted_entries=evicted, repeated_matches=repeated)

    def late_counts(self) -> dict[str, int]:
        """Late events per correlation rule id since the last call (the detector's metric)."""
        counts, self._late_by_rule = self._late_by_rule, {}
        return counts

    def _mark(self, partition: int | None, ts_us: int, wall: float | None) -> None:
        if ts_us >= self._partition_marks.get(partition, ts_us):
            self._partition_marks[partition] = ts_us
            self._partition_seen[partition] = time.time() if wall is None else wall
        slowest = min(self._partition_marks.values())
        self._watermark = slowest if self._floor is None else max(self._floor, slowest)

    def note_time(self, partition: int | None, ts: datetime, *, wall: float | None = None) -> None:
        """A source partition's event time moved on without a match counted here (a partitioned
        correlator hears each source partition's time from the detector, as a watermark)."""
        self._mark(partition, _to_us(ts), wall)

    def _is_late(self, partition: int | None, ts_us: int) -> bool:
        marks = [m for m in (self._partition_marks.get(partition), self._floor) if m is not None]
        return bool(marks) and ts_us < max(marks) - self._lateness_us

    def observe(
        self,
        event: Event,
        matched: Sequence[RuleLike],
        ts: datetime,
        partition: int | None = None,
        *,
        wall: float | None = None,
        feeds: Collection[Feed] | None = None,
    ) -> list[CorrelationAlert]:
        """Count one event's matches into the windows. `partition` is the source partition (the
        watermark is per partition); `wall` the wall-clock time it was read (default: now);
        `feeds` (a route's) limits which (rule key, position) pairs the matches count for."""
        self._stats.events_observed += 1
        pending: dict[int, list[_Feed]] = {}
        event_id = get_path(event, "event.id")
        event_ids = (str(event_id),) if event_id is not None else ()
        agency = get_path(event, "canhgac.agency")
        agencies = (str(agency),) if isinstance(agency, str) and agency else ()
        for rule in matched:
            hits = set().union(*(self._base_index.get(k, ()) for k in keys_of(rule.id, rule.name)))
            for ci, pos in sorted(hits):
                if feeds is not None and (self._specs[ci].key, pos) not in feeds:
                    continue
                pending.setdefault(ci, []).append(_Feed(pos, event_ids, agencies))
        ts_us = _to_us(ts)
        if not self._is_late_path and self._is_late(partition, ts_us):
            if not pending:
                return []
            self._stats.late_events += 1
            for ci in pending:
                rule_id = self._specs[ci].rule_id
                self._late_by_rule[rule_id] = self._late_by_rule.get(rule_id, 0) + 1
            if self._late is None:
                self._late = CorrelationEngine(self._specs, late_path=True, **self._options)  # type: ignore[arg-type]
            return self._late.observe(event, matched, ts, partition, wall=wall, feeds=feeds)
        self._mark(partition, ts_us, wall)
        out: dict[str, CorrelationAlert] = {}
        for ci in self._order:
            for feed in pending.pop(ci, ()):
                for alert in self._feed(ci, feed, event, ts_us):
                    for outer, pos in self._nested_index[ci]:
                        # The first emission hands over everything it counted; updates add the
                        # event that caused them.
                        ids = event_ids if alert.is_update else alert.event_ids
                        involved = agencies if alert.is_update else alert.agencies
                        pending.setdefault(outer, []).append(_Feed(pos, ids, involved, alert.group))
                    self._emit(ci, alert, out)
        return list(out.values())

    def idle(self, wall: float | None = None) -> list[CorrelationAlert]:
        """No events for a while: each partition's event time moves on with the wall clock from its
        newest event (never to the wall clock itself, so a replayed backlog is not made late), and
        windows that can no longer change close (end-of-window conditions fire)."""
        wall = time.time() if wall is None else wall
        out: list[CorrelationAlert] = []
        if self._partition_marks:
            moved = {
                p: max(mark, mark + int((wall - self._partition_seen.get(p, wall)) * 1_000_000))
                for p, mark in self._partition_marks.items()
            }
            out = self.advance(_from_us(min(moved.values())))
        if self._late is not None:
            out += self._late.idle(wall)
        return out

    def advance(self, now: datetime) -> list[CorrelationAlert]:
        """Move the watermark (event time) to `now`; close windows and fire end-of-window conditions.

        Pass event time (e.g. the oldest partition's latest @timestamp), not wall-clock time:
        a watermark ahead of a delayed source makes its events late.
        """
        now_us = _to_us(now)
        self._floor = now_us if self._floor is None else max(self._floor, now_us)
        self._watermark = now_us if self._watermark is None else max(self._watermark, now_us)
        horizon = self._watermark - self._lateness_us
        out: dict[str, CorrelationAlert] = {}
        for ci, groups in enumerate(self._groups):
            for gkey in list(groups):
                group = groups[gkey]
                for window in self._logic[ci].expire(group, horizon):
                    self._emit(ci, self._alert(ci, gkey, group, window, is_update=False), out)
                if group.is_empty():
                    del groups[gkey]
        alerts = list(out.values())
        if self._late is not None:  # late windows are all older: they close by the same time
            alerts += self._late.advance(now)
        return alerts

    def _feed(self, ci: int, feed: _Feed, event: Event, ts_us: int) -> list[CorrelationAlert]:
        spec = self._specs[ci]
        values = []
        for name, field_name in zip(spec.group_by, spec.group_fields[feed.position], strict=True):
            if feed.inner_group is not None and name in feed.inner_group:
                value = feed.inner_group[name]
            else:
                value = self._resolve(event, field_name)
            if value is None:
                self._stats.missing_field += 1
                return []
            values.append(value)
        key: Any = None
        if spec.type == VALUE_COUNT:
            counted = [self._resolve(event, f) for f in spec.value_field]
            if any(v is None for v in counted):
                self._stats.missing_field += 1
                return []
            key = _value_key(counted)
        elif spec.type in (TEMPORAL, TEMPORAL_ORDERED):
            key = feed.position
        elif spec.type in METRIC_TYPES:
            key = _number(self._resolve(event, spec.value_field[0]))
            if key is None:  # absent or not a number: nothing to add up
                self._stats.missing_field += 1
                return []
        # Tenancy is part of the group: one agency's matches never share a window with another's,
        # unless the rule spans agencies. (An agency rule's feeds carry at most one agency.)
        scope = values if spec.cross_agency else [feed.agencies[0] if feed.agencies else None, *values]
        gkey = orjson.dumps(scope, default=str).decode()
        groups = self._groups[ci]
        group = groups.get(gkey)
        if group is None:
            if len(groups) >= self._max_groups:
                groups.popitem(last=False)
                self._stats.evicted_groups += 1
            group = groups[gkey] = Group(values)
        else:
            groups.move_to_end(gkey)
        logic = self._logic[ci]
        assert self._watermark is not None
        alerts = [
            self._alert(ci, gkey, group, w, is_update=False)
            for w in logic.expire(group, self._watermark - self._lateness_us)
        ]
        self._seq += 1
        self._stats.matches += 1
        placed = logic.add(group, (ts_us, self._seq, key, feed.event_ids, feed.agencies))
        if placed is not None:
            window, is_new = placed
            alerts.append(self._alert(ci, gkey, group, window, is_update=not is_new))
        return alerts

    def _alert(self, ci: int, gkey: str, group: Group, window: Window, *, is_update: bool) -> CorrelationAlert:
        spec = self._specs[ci]
        # A late window has its own id: it must not overwrite an on-time alert of the same start.
        parts = ("correlation", spec.key, gkey, str(window.start), *(("late",) if self._is_late_path else ()))
        return CorrelationAlert(
            id=derived_id(*parts),
            rule_id=spec.rule_id,
            rule_name=spec.name,
            title=spec.title,
            level=spec.level,
            author=spec.author,
            tags=spec.tags,
            references=spec.references,
            description=spec.description,
            type=spec.type,
            group=dict(zip(spec.group_by, group.values, strict=True)),
            window_start=_from_us(window.start),
            window_end=_from_us(window.end),
            first_seen=_from_us(window.first_seen),
            last_seen=_from_us(window.last_seen),
            count=window.events if spec.type in METRIC_TYPES else int(self._logic[ci].count(window)),
            value=self._logic[ci].count(window) if spec.type in METRIC_TYPES else None,
            event_count=window.events,
            event_ids=tuple(window.event_ids),
            is_update=is_update,
            agency=SOC_AGENCY if spec.cross_agency else next(iter(window.agencies), None),
            agencies=tuple(window.agencies),
            cross_agency=spec.cross_agency,
            late=self._is_late_path,
        )

    def _emit(self, ci: int, alert: CorrelationAlert, out: dict[str, CorrelationAlert]) -> None:
        if not self._emits[ci]:
            self._stats.alerts_suppressed += 1
            return
        if alert.is_update:
            self._stats.alerts_updated += 1
        else:
            self._stats.alerts_new += 1
        if alert.id in out and not out[alert.id].is_update:
            alert = dataclasses.replace(alert, is_update=False)  # still the first emission for callers
        out[alert.id] = alert

    def checkpoint(self) -> bytes:
        rules = {
            spec.key: {
                "fingerprint": spec.fingerprint,
                "groups": [[gkey, group.to_json()] for gkey, group in self._groups[ci].items()],
            }
            for ci, spec in enumerate(self._specs)
        }
        state = {
            "version": CHECKPOINT_VERSION,
            "watermark_us": self._watermark,
            "seq": self._seq,
            "rules": rules,
            # Optional (older checkpoints lack it): each partition's newest event time.
            "partitions": [[p, mark] for p, mark in self._partition_marks.items()],
        }
        return orjson.dumps(state, default=str)

    def restore(self, state: bytes) -> None:
        """Replace all state with a checkpoint's; rules that changed since start empty."""
        try:
            data = orjson.loads(state)
            saved_rules: dict[str, Any] = data["rules"]
            if data.get("version") == 1:
                # Its groups know no agency, so none can be trusted: every rule starts empty.
                saved_rules = {key: {"fingerprint": None} for key in saved_rules}
            elif data.get("version") != CHECKPOINT_VERSION:
                raise ConfigError(f"correlation checkpoint version {data.get('version')!r} is not supported")
            restored: list[OrderedDict[str, Group]] = []
            for spec in self._specs:
                saved = saved_rules.get(spec.key)
                if saved is None or saved["fingerprint"] != spec.fingerprint:
                    restored.append(OrderedDict())
                    continue
                restored.append(OrderedDict((gkey, Group.from_json(g)) for gkey, g in saved["groups"]))
            watermark, seq = data["watermark_us"], int(data["seq"])
            marks = {(None if p is None else int(p)): int(mark) for p, mark in data.get("partitions", [])}
            known = {spec.key: spec.fingerprint for spec in self._specs}
            discarded = sum(1 for key, saved in saved_rules.items() if known.get(key) != saved["fingerprint"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"correlation checkpoint is unreadable: {exc!r}") from exc
        self._stats.restore_discarded_rules += discarded
        self._groups, self._watermark, self._floor, self._seq = restored, watermark, watermark, seq
        now = time.time()
        self._partition_marks = marks
        self._partition_seen = dict.fromkeys(marks, now)
