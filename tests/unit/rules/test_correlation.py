"""Correlation engine semantics, one correlation type or mechanism per test, with exact alerts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import yaml
from canhgac.core.errors import ConfigError, RuleError
from canhgac.core.event import set_path
from canhgac.core.ids import derived_id
from canhgac.rules.correlation import CorrelationAlert, CorrelationEngine
from hypothesis import given, settings
from hypothesis import strategies as st
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
UA, UB, UC = (
    "0b7e6a44-0000-4000-8000-00000000000a",
    "0b7e6a44-0000-4000-8000-00000000000b",
    "0b7e6a44-0000-4000-8000-00000000000c",
)
UCORR = "0b7e6a44-0000-4000-8000-0000000000cc"


@dataclass(frozen=True)
class Meta:
    """What the single-event engine reports for a matched base rule."""

    id: str | None
    name: str | None
    title: str = ""


A, B, C = Meta(UA, "rule_a"), Meta(UB, "rule_b"), Meta(UC, "rule_c")


def base(uid: str, name: str) -> str:
    return yaml.safe_dump(
        {
            "title": f"base {name}",
            "id": uid,
            "name": name,
            "logsource": {"product": "test"},
            "detection": {"sel": {"x": name}, "condition": "sel"},
            "level": "low",
        }
    )


def corr(kind: str, rules: list[str], **correlation: Any) -> str:
    meta = correlation.pop("meta", {})
    body: dict[str, Any] = {"type": kind, "rules": rules, "timespan": correlation.pop("timespan", "5m")}
    body.update({k.replace("_", "-"): v for k, v in correlation.items()})
    return yaml.safe_dump(
        {
            "title": meta.get("title", "corr"),
            "id": meta.get("id", UCORR),
            "name": meta.get("name", "corr_rule"),
            "level": "high",
            "author": "SOC",
            "tags": ["attack.t1110"],
            "references": ["https://example.org"],
            "description": "d",
            "correlation": body,
        }
    )


def load_rules(*docs: str) -> list[SigmaCorrelationRule]:
    collection = SigmaCollection.from_yaml(
        "\n---\n".join([base(UA, "rule_a"), base(UB, "rule_b"), base(UC, "rule_c"), *docs])
    )
    return [r for r in collection.rules if isinstance(r, SigmaCorrelationRule)]


def engine(*docs: str, **options: Any) -> CorrelationEngine:
    return CorrelationEngine.from_sigma(load_rules(*docs), **options)


def ev(eid: str, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"event": {"id": eid}}
    for dotted, value in fields.items():
        set_path(event, dotted.replace("__", "."), value)
    return event


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def feed(eng: CorrelationEngine, stream: list[tuple[float, str, Meta, dict[str, Any]]]) -> list[CorrelationAlert]:
    out: list[CorrelationAlert] = []
    for secs, eid, rule, fields in stream:
        out.extend(eng.observe(ev(eid, **fields), [rule], at(secs)))
    return out


def alert_id(group_values: list[Any], start_secs: float, agency: str | None = None) -> str:
    gkey = orjson.dumps([agency, *group_values]).decode()  # the agency leads every group key
    return derived_id("correlation", f"id:{UCORR}", gkey, str(int(at(start_secs).timestamp() * 1_000_000)))


USER = {"user__name": "alice"}
EVENT_COUNT_5 = corr("event_count", ["rule_a"], group_by=["user.name"], condition={"gte": 5})


# --- event_count ------------------------------------------------------------------------------------


def test_event_count_fires_once_at_threshold_with_exact_alert() -> None:
    eng = engine(EVENT_COUNT_5)
    alerts = feed(eng, [(i * 10, f"e{i}", A, USER) for i in range(5)])
    assert alerts == [
        CorrelationAlert(
            id=alert_id(["alice"], 0),
            rule_id=UCORR,
            rule_name="corr_rule",
            title="corr",
            level="high",
            author="SOC",
            tags=("attack.t1110",),
            references=("https://example.org",),
            description="d",
            type="event_count",
            group={"user.name": "alice"},
            window_start=at(0),
            window_end=at(300),
            first_seen=at(0),
            last_seen=at(40),
            count=5,
            event_count=5,
            event_ids=("e0", "e1", "e2", "e3", "e4"),
            is_update=False,
        )
    ]


def test_a_match_delivered_twice_is_counted_once_even_across_a_restore() -> None:
    # A detector replica killed after publishing a match, before committing its input, publishes
    # it again (found by the chaos test: counts of 7-8 with 5 distinct events).
    eng = engine(EVENT_COUNT_5)
    assert feed(eng, [(0, "e0", A, USER), (10, "e1", A, USER), (10, "e1", A, USER), (20, "e2", A, USER)]) == []
    assert eng.stats().repeated_matches == 1
    restarted = engine(EVENT_COUNT_5)
    restarted.restore(eng.checkpoint())
    assert feed(restarted, [(20, "e2", A, USER), (30, "e3", A, USER)]) == []  # e2 again: still four
    alerts = feed(restarted, [(40, "e4", A, USER), (40, "e4", A, USER)])
    assert [(a.count, a.event_ids, a.is_update) for a in alerts] == [(5, ("e0", "e1", "e2", "e3", "e4"), False)]
    assert restarted.stats().repeated_matches == 2


def test_event_count_below_threshold_is_silent() -> None:
    eng = engine(EVENT_COUNT_5)
    assert feed(eng, [(i * 10, f"e{i}", A, USER) for i in range(4)]) == []
    assert eng.stats().matches == 4


def test_further_matches_in_window_update_the_same_alert_then_a_new_window_starts() -> None:
    eng = engine(EVENT_COUNT_5)
    alerts = feed(eng, [(i * 10, f"e{i}", A, USER) for i in range(7)])
    assert [(a.id, a.count, a.is_update, a.last_seen) for a in alerts] == [
        (alert_id(["alice"], 0), 5, False, at(40)),
        (alert_id(["alice"], 0), 6, True, at(50)),
        (alert_id(["alice"], 0), 7, True, at(60)),
    ]
    # After the window [0, 300) the count starts again: 4 more matches are not enough, the 5th is.
    later = feed(eng, [(300 + i, f"f{i}", A, USER) for i in range(5)])
    assert [(a.id, a.count, a.window_start, a.event_ids) for a in later] == [
        (alert_id(["alice"], 300), 5, at(300), ("f0", "f1", "f2", "f3", "f4")),
    ]
    assert eng.stats().alerts_new == 2 and eng.stats().alerts_updated == 2


def test_event_count_window_slides() -> None:
    eng = engine(EVENT_COUNT_5)
    # Matches 80 s apart: any 5 span 320 s > 5 min, until a 6th arrives close to the 5th.
    assert feed(eng, [(i * 80, f"e{i}", A, USER) for i in range(5)]) == []
    alerts = feed(eng, [(330, "e5", A, USER)])
    assert [(a.window_start, a.first_seen, a.count, a.event_ids) for a in alerts] == [
        (at(80), at(80), 5, ("e1", "e2", "e3", "e4", "e5")),
    ]


def test_timespan_is_half_open() -> None:
    eng = engine(corr("event_count", ["rule_a"], group_by=["user.name"], condition={"gte": 2}))
    assert feed(eng, [(0, "e0", A, USER), (300, "e1", A, USER)]) == []
    assert len(feed(eng, [(599.999, "e2", A, USER)])) == 1


def test_gt_condition() -> None:
    eng = engine(corr("event_count", ["rule_a"], group_by=["user.name"], condition={"gt": 2}))
    assert feed(eng, [(0, "e0", A, USER), (1, "e1", A, USER)]) == []
    assert [a.count for a in feed(eng, [(2, "e2", A, USER)])] == [3]


# --- group-by -----------------------------------------------------------------------------------------


def test_group_by_keeps_groups_apart_and_reports_the_group() -> None:
    eng = engine(corr("event_count", ["rule_a"], group_by=["user.name", "source.ip"], condition={"gte": 2}))
    stream = [
        (0, "a1", A, {"user__name": "alice", "source__ip": "10.0.0.1"}),
        (1, "b1", A, {"user__name": "alice", "source__ip": "10.0.0.2"}),
        (2, "c1", A, {"user__name": "bob", "source__ip": "10.0.0.1"}),
        (3, "a2", A, {"user__name": "alice", "source__ip": "10.0.0.1"}),
    ]
    alerts = feed(eng, stream)
    assert [(a.group, a.event_ids) for a in alerts] == [
        ({"user.name": "alice", "source.ip": "10.0.0.1"}, ("a1", "a2")),
    ]


def test_no_group_by_is_one_group() -> None:
    eng = engine(corr("event_count", ["rule_a"], condition={"gte": 2}))
    alerts = feed(eng, [(0, "e0", A, USER), (1, "e1", A, {"user__name": "bob"})])
    assert [(a.group, a.count) for a in alerts] == [({}, 2)]


def test_missing_group_field_is_counted_not_grouped() -> None:
    eng = engine(EVENT_COUNT_5)
    assert feed(eng, [(i, f"e{i}", A, {"source__ip": "1.2.3.4"}) for i in range(6)]) == []
    assert eng.stats().missing_field == 6 and eng.stats().matches == 0


def test_group_field_falls_back_to_winlog_event_data() -> None:
    eng = engine(corr("event_count", ["rule_a"], group_by=["TargetUserName"], condition={"gte": 2}))
    alerts = feed(eng, [(i, f"e{i}", A, {"winlog__event_data__TargetUserName": "adm"}) for i in range(2)])
    assert [a.group for a in alerts] == [{"TargetUserName": "adm"}]


def test_resolver_is_pluggable() -> None:
    def upper_resolver(event: dict[str, Any], name: str) -> Any:
        return {"User": "ALICE"}.get(name)

    eng = CorrelationEngine.from_sigma(
        load_rules(corr("event_count", ["rule_a"], group_by=["User"], condition={"gte": 1})),
        resolver=upper_resolver,
    )
    assert [a.group for a in feed(eng, [(0, "e0", A, {})])] == [{"User": "ALICE"}]


# --- value_count --------------------------------------------------------------------------------------


def test_value_count_counts_distinct_values() -> None:
    eng = engine(
        corr(
            "value_count", ["rule_a"], group_by=["source.ip"], timespan="1m", condition={"gte": 3, "field": "url.path"}
        )
    )
    ip = {"source__ip": "10.9.9.9"}
    stream = [
        (0, "r0", A, {**ip, "url__path": "/a"}),
        (1, "r1", A, {**ip, "url__path": "/a"}),
        (2, "r2", A, {**ip, "url__path": "/b"}),
        (3, "r3", A, {**ip, "url__path": "/b"}),
        (4, "r4", A, ip),  # no url.path: not counted
    ]
    assert feed(eng, stream) == []
    assert eng.stats().missing_field == 1
    alerts = feed(eng, [(5, "r5", A, {**ip, "url__path": "/c"}), (6, "r6", A, {**ip, "url__path": "/a"})])
    assert [(a.count, a.event_count, a.is_update, a.event_ids) for a in alerts] == [
        (3, 5, False, ("r0", "r1", "r2", "r3", "r5")),
        (3, 6, True, ("r0", "r1", "r2", "r3", "r5", "r6")),
    ]


# --- temporal -----------------------------------------------------------------------------------------

TEMPORAL_AB = corr("temporal", ["rule_a", "rule_b"], group_by=["user.name"], timespan="10m")


def test_temporal_fires_in_any_order() -> None:
    for first, second in ((A, B), (B, A)):
        eng = engine(TEMPORAL_AB)
        alerts = feed(eng, [(0, "x", first, USER), (60, "y", second, USER)])
        assert [(a.count, a.event_ids, a.type) for a in alerts] == [(2, ("x", "y"), "temporal")]


def test_temporal_needs_every_rule_within_timespan() -> None:
    eng = engine(TEMPORAL_AB)
    assert feed(eng, [(0, "x", A, USER), (30, "x2", A, USER)]) == []
    assert feed(eng, [(700, "y", B, USER)]) == []  # A was more than 10 min earlier
    assert feed(eng, [(650, "y", B, {"user__name": "bob"})]) == []  # other group


def test_temporal_with_expression_condition_fires_when_the_expression_holds() -> None:
    eng = engine(
        corr(
            "temporal",
            ["rule_a", "rule_b", "rule_c"],
            group_by=["user.name"],
            condition="rule_a and (rule_b or rule_c)",
        )
    )
    assert feed(eng, [(0, "x", B, USER)]) == []
    assert [a.count for a in feed(eng, [(1, "y", A, USER)])] == [2]


# --- temporal_ordered ---------------------------------------------------------------------------------

ORDERED_ABC = corr("temporal_ordered", ["rule_a", "rule_b", "rule_c"], group_by=["user.name"], timespan="10m")


def test_temporal_ordered_fires_only_in_order() -> None:
    eng = engine(ORDERED_ABC)
    alerts = feed(eng, [(0, "a", A, USER), (10, "b", B, USER), (20, "c", C, USER)])
    assert [(a.event_ids, a.window_start, a.type) for a in alerts] == [(("a", "b", "c"), at(0), "temporal_ordered")]
    eng = engine(ORDERED_ABC)
    assert feed(eng, [(0, "b", B, USER), (10, "a", A, USER), (20, "c", C, USER)]) == []
    # ... until the missing step comes in order: a(10) b(30) c(40); the window then holds every
    # match within the timespan before the chain completed, out-of-order ones too.
    alerts = feed(eng, [(30, "b2", B, USER), (40, "c2", C, USER)])
    assert [(a.window_start, a.event_ids) for a in alerts] == [(at(0), ("b", "a", "c", "b2", "c2"))]


def test_temporal_ordered_uses_the_shortest_chain() -> None:
    eng = engine(corr("temporal_ordered", ["rule_a", "rule_b"], group_by=["user.name"], timespan="10m"))
    alerts = feed(eng, [(0, "a0", A, USER), (300, "a1", A, USER), (720, "b", B, USER)])
    # a0 is 12 min before b; a1 is within 10 min and starts the window.
    assert [(a.window_start, a.event_ids) for a in alerts] == [(at(300), ("a1", "b"))]


# --- references ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("reference", ["rule_a", UA])
@pytest.mark.parametrize("reported", [A, Meta(UA, None), Meta(None, "rule_a")])
def test_rules_are_referenced_by_name_or_id(reference: str, reported: Meta) -> None:
    eng = engine(corr("event_count", [reference], condition={"gte": 2}))
    assert [a.count for a in feed(eng, [(0, "e0", reported, {}), (1, "e1", reported, {})])] == [2]


def test_unrelated_rule_is_ignored() -> None:
    eng = engine(EVENT_COUNT_5)
    assert feed(eng, [(i, f"e{i}", B, USER) for i in range(10)]) == []
    assert eng.stats().matches == 0


def test_unresolved_reference_is_rejected() -> None:
    with pytest.raises(Exception, match="no_such_rule"):
        engine(corr("event_count", ["no_such_rule"], condition={"gte": 2}))


# --- generate and nesting -----------------------------------------------------------------------------


def nested(generate_inner: bool) -> list[str]:
    inner = corr(
        "event_count",
        ["rule_a"],
        group_by=["user.name"],
        condition={"gte": 2},
        meta={"id": "0b7e6a44-0000-4000-8000-0000000000dd", "name": "inner", "title": "inner"},
    )
    outer = corr(
        "temporal_ordered",
        ["inner", "rule_b"],
        group_by=["user.name"],
        timespan="10m",
        generate=generate_inner,
        meta={"title": "outer"},
    )
    return [inner, outer]


@pytest.mark.parametrize("generate", [False, True])
def test_generate_controls_referenced_rules_own_alerts(generate: bool) -> None:
    eng = engine(*nested(generate))
    assert eng.emits_own_alerts(A) is False  # only the inner correlation references it, without generate
    assert eng.emits_own_alerts(B) is generate
    assert eng.emits_own_alerts(C) is True  # not referenced at all
    alerts = feed(eng, [(0, "a0", A, USER), (1, "a1", A, USER), (2, "b", B, USER)])
    expected = [("inner", ("a0", "a1"))] if generate else []
    expected.append(("outer", ("a0", "a1", "b")))
    assert [(a.title, a.event_ids) for a in alerts] == expected
    assert eng.stats().alerts_suppressed == (0 if generate else 1)


def test_inner_updates_keep_the_outer_chain_alive() -> None:
    eng = engine(*nested(False))
    # inner fires at 1 s, updates at 500 s; the outer's 10 min are counted from the latest emission.
    feed(eng, [(0, "a0", A, USER), (1, "a1", A, USER)])
    feed(eng, [(250, "a2", A, USER)])
    alerts = feed(eng, [(800, "b", B, USER)])
    assert [(a.title, a.window_start, a.event_ids) for a in alerts] == [("outer", at(250), ("a2", "b"))]


def test_reference_cycle_is_rejected() -> None:
    one = corr("temporal", ["two", "rule_a"], meta={"id": "0b7e6a44-0000-4000-8000-0000000000e1", "name": "one"})
    two = corr("temporal", ["one", "rule_b"], meta={"id": "0b7e6a44-0000-4000-8000-0000000000e2", "name": "two"})
    with pytest.raises(RuleError) as err:
        CorrelationEngine.from_sigma(load_rules(one, two))
    assert err.value.reason == "reference_cycle"


# --- lateness -----------------------------------------------------------------------------------------


def test_out_of_order_within_lateness_gives_the_in_order_alert() -> None:
    in_order = [(i * 10, f"e{i}", A, USER) for i in range(5)]
    shuffled = [in_order[i] for i in (1, 3, 2, 4, 0)]  # e0 arrives 40 s late
    expected = feed(engine(EVENT_COUNT_5), in_order)
    assert feed(engine(EVENT_COUNT_5, allowed_lateness_secs=60), shuffled) == expected


def test_out_of_order_temporal_ordered_uses_event_time() -> None:
    eng = engine(corr("temporal_ordered", ["rule_a", "rule_b"], group_by=["user.name"], timespan="10m"))
    assert feed(eng, [(100, "b", B, USER)]) == []
    assert [a.event_ids for a in feed(eng, [(50, "a", A, USER)])] == [("a", "b")]


def test_late_match_joins_the_open_window() -> None:
    eng = engine(EVENT_COUNT_5)
    feed(eng, [(10 + i, f"e{i}", A, USER) for i in range(5)])
    [update] = feed(eng, [(0, "late", A, USER)])
    assert (update.is_update, update.count, update.window_start, update.first_seen) == (True, 6, at(10), at(0))


def test_events_beyond_lateness_go_to_the_late_path_counted_and_alert_marked_late() -> None:
    eng = engine(EVENT_COUNT_5, allowed_lateness_secs=60)
    feed(eng, [(200, "e0", A, USER)])
    late = feed(eng, [(139 - i, f"old{i}", A, USER) for i in range(5)])
    assert eng.stats().late_events == 5 and eng.late_counts() == {UCORR: 5}
    assert eng.late_counts() == {}  # drained
    [alert] = late
    assert (alert.late, alert.count, alert.window_start, alert.is_update) == (True, 5, at(135), False)
    assert alert.to_dict()["correlation"]["late"] is True
    assert alert.id != alert_id(["alice"], 135, None)  # never overwrites an on-time alert
    assert set(alert.event_ids) == {f"old{i}" for i in range(5)}
    # Exactly at the lateness bound is still on time (main windows, not late).
    feed(eng, [(140, "edge", A, USER)])
    assert eng.stats().late_events == 5 and eng.stats().matches == 2


def test_events_inside_lateness_stay_on_time() -> None:
    eng = engine(EVENT_COUNT_5, allowed_lateness_secs=300)
    feed(eng, [(600, "e0", A, {"user__name": "bob"})])
    [alert] = feed(eng, [(301 + i, f"old{i}", A, USER) for i in range(5)])
    assert (alert.late, alert.count, alert.id) == (False, 5, alert_id(["alice"], 301))
    assert eng.stats().late_events == 0


def test_watermark_is_the_slowest_partitions() -> None:
    eng = engine(EVENT_COUNT_5, allowed_lateness_secs=60)
    eng.observe(ev("p0"), [A], at(1000), partition=0)
    # partition 1 is hours behind partition 0: its backlog is on time, not late
    alerts = [a for i in range(5) for a in eng.observe(ev(f"p1-{i}", **USER), [A], at(10 + i), partition=1)]
    assert [(a.late, a.count) for a in alerts] == [(False, 5)]
    assert eng.stats().late_events == 0
    # within one partition, far older than its own newest event is late
    eng.observe(ev("p1-new", **USER), [A], at(2000), partition=1)
    eng.observe(ev("p1-old", **USER), [A], at(100), partition=1)
    assert eng.stats().late_events == 1


def test_idle_follows_the_clock_from_the_newest_event_not_to_the_clock() -> None:
    doc = corr("event_count", ["rule_a"], group_by=["user.name"], condition={"lt": 3})
    eng = engine(doc, allowed_lateness_secs=60)
    wall = 1_000_000.0
    eng.observe(ev("a", **USER), [A], at(0), partition=0, wall=wall)  # T0 is long before `wall`
    assert eng.idle(wall + 359) == []  # event time 359 s: window [0, 300) may still get events
    [alert] = eng.idle(wall + 360)
    assert (alert.count, alert.late) == (1, False)
    # a backlog replayed later is on time: event time did not jump to the wall clock
    assert eng.observe(ev("b", **USER), [A], at(400), partition=0, wall=wall + 361) == []
    assert eng.stats().late_events == 0


def test_late_path_end_of_window_condition_fires_on_idle() -> None:
    doc = corr("event_count", ["rule_a"], group_by=["user.name"], condition={"lt": 3})
    eng = engine(doc, allowed_lateness_secs=60)
    wall = 1_000_000.0
    eng.observe(ev("now", **{"user__name": "bob"}), [A], at(10_000), partition=0, wall=wall)
    assert eng.observe(ev("old", **USER), [A], at(0), partition=0, wall=wall) == []
    fired = eng.idle(wall + 1)
    assert [(a.group, a.late, a.count) for a in fired] == [({"user.name": "alice"}, True, 1)]


def test_irrelevant_late_events_are_not_counted_as_dropped() -> None:
    eng = engine(EVENT_COUNT_5)
    feed(eng, [(200, "e0", A, USER)])
    eng.observe(ev("x"), [], at(0))
    assert eng.stats().late_events == 0


# --- end-of-window conditions -------------------------------------------------------------------------


def test_lt_condition_fires_when_the_window_closes() -> None:
    eng = engine(corr("event_count", ["rule_a"], group_by=["user.name"], condition={"lt": 3}), allowed_lateness_secs=60)
    assert feed(eng, [(0, "e0", A, USER), (10, "e1", A, USER)]) == []
    assert eng.advance(at(359)) == []  # window ends at 300, late events may still come until 360
    [alert] = eng.advance(at(360))
    assert (alert.count, alert.window_start, alert.window_end, alert.event_ids) == (2, at(0), at(300), ("e0", "e1"))
    assert eng.advance(at(1000)) == []


def test_lt_condition_not_met_is_silent() -> None:
    eng = engine(corr("event_count", ["rule_a"], group_by=["user.name"], condition={"lt": 3}))
    feed(eng, [(i, f"e{i}", A, USER) for i in range(3)])
    assert eng.advance(at(3600)) == []


def test_eq_condition_is_decided_at_window_end() -> None:
    eng = engine(corr("event_count", ["rule_a"], group_by=["user.name"], condition={"eq": 2}))
    assert feed(eng, [(0, "e0", A, USER), (1, "e1", A, USER)]) == []
    feed(eng, [(2, "e2", A, USER)])
    assert eng.advance(at(3600)) == []


def test_temporal_with_not_fires_when_the_follow_up_is_missing() -> None:
    eng = engine(corr("temporal", ["rule_a", "rule_b"], group_by=["user.name"], condition="rule_a and not rule_b"))
    feed(eng, [(0, "a", A, USER), (5, "a2", A, {"user__name": "bob"}), (30, "b", B, {"user__name": "bob"})])
    assert [(a.group, a.event_ids) for a in eng.advance(at(3600))] == [({"user.name": "alice"}, ("a",))]


# --- memory bounds ------------------------------------------------------------------------------------


def test_groups_per_rule_are_capped_oldest_first() -> None:
    eng = engine(corr("event_count", ["rule_a"], group_by=["user.name"], condition={"gte": 2}), max_groups_per_rule=2)
    feed(
        eng,
        [(0, "u1", A, {"user__name": "u1"}), (1, "u2", A, {"user__name": "u2"}), (2, "u3", A, {"user__name": "u3"})],
    )
    assert eng.stats().evicted_groups == 1
    assert feed(eng, [(3, "u1b", A, {"user__name": "u1"})]) == []  # u1's first match was evicted
    assert [a.group for a in feed(eng, [(4, "u3b", A, {"user__name": "u3"})])] == [{"user.name": "u3"}]


def test_entries_per_group_are_capped() -> None:
    eng = engine(corr("event_count", ["rule_a"], condition={"gte": 5}), max_entries_per_group=3)
    assert feed(eng, [(i, f"e{i}", A, {}) for i in range(10)]) == []
    assert eng.stats().evicted_entries == 7


def test_expired_state_is_pruned() -> None:
    eng = engine(EVENT_COUNT_5, TEMPORAL_AB.replace(UCORR, "0b7e6a44-0000-4000-8000-0000000000ee"))
    feed(eng, [(i, f"e{i}", A, {"user__name": f"u{i}"}) for i in range(50)])
    assert sum(len(r["groups"]) for r in orjson.loads(eng.checkpoint())["rules"].values()) == 100
    eng.advance(at(49 + 600 + 60))
    assert all(r["groups"] == [] for r in orjson.loads(eng.checkpoint())["rules"].values())


def test_event_ids_are_bounded() -> None:
    eng = engine(corr("event_count", ["rule_a"], condition={"gte": 1}))
    alerts = feed(eng, [(i, f"e{i}", A, {}) for i in range(150)])
    assert (alerts[-1].event_count, len(alerts[-1].event_ids), alerts[-1].event_ids[-1]) == (150, 100, "e99")


# --- checkpoint / restore -----------------------------------------------------------------------------


def test_checkpoint_restore_mid_window_continues_exactly() -> None:
    stream = [(i * 10, f"e{i}", A, USER) for i in range(3)] + [(25, "late", A, USER)]
    rest = [(40, "e4", A, USER), (50, "e5", A, USER)]
    uninterrupted = engine(EVENT_COUNT_5)
    feed(uninterrupted, stream)
    state = uninterrupted.checkpoint()
    expected = feed(uninterrupted, rest)

    restarted = engine(EVENT_COUNT_5)
    restarted.restore(state)
    assert restarted.checkpoint() == state
    assert feed(restarted, rest) == expected
    assert [a.count for a in expected] == [5, 6]


def test_checkpoint_round_trips_open_windows_and_watermark() -> None:
    eng = engine(
        ORDERED_ABC,
        corr(
            "value_count",
            ["rule_a"],
            group_by=["user.name"],
            condition={"gte": 2, "field": "url.path"},
            meta={"id": "0b7e6a44-0000-4000-8000-0000000000ef", "name": "vc"},
        ),
    )
    feed(eng, [(0, "a", A, {**USER, "url__path": "/x"}), (1, "a2", A, {**USER, "url__path": 7}), (2, "b", B, USER)])
    state = eng.checkpoint()
    other = engine(
        ORDERED_ABC,
        corr(
            "value_count",
            ["rule_a"],
            group_by=["user.name"],
            condition={"gte": 2, "field": "url.path"},
            meta={"id": "0b7e6a44-0000-4000-8000-0000000000ef", "name": "vc"},
        ),
    )
    other.restore(state)
    assert other.checkpoint() == state
    assert feed(other, [(3, "c", C, USER)]) == feed(eng, [(3, "c", C, USER)])
    # The watermark came back too: an event far older than it is late.
    other.observe(ev("old"), [A], at(-3600))
    assert other.stats().late_events == 1


def test_restore_discards_state_of_a_changed_rule() -> None:
    eng = engine(EVENT_COUNT_5)
    feed(eng, [(i, f"e{i}", A, USER) for i in range(4)])
    changed = engine(corr("event_count", ["rule_a"], group_by=["user.name"], condition={"gte": 2}))
    changed.restore(eng.checkpoint())
    assert changed.stats().restore_discarded_rules == 1
    assert feed(changed, [(5, "e5", A, USER)]) == []


def test_restore_refuses_unknown_versions_and_garbage() -> None:
    eng = engine(EVENT_COUNT_5)
    with pytest.raises(ConfigError):
        eng.restore(orjson.dumps({"version": 99, "rules": {}}))
    with pytest.raises(ConfigError):
        eng.restore(b"not json")
    with pytest.raises(ConfigError):
        eng.restore(orjson.dumps({"version": 2, "rules": {f"id:{UCORR}": {"fingerprint": "x"}}}))


# --- rejected rules -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        (
            corr("value_percentile", ["rule_a"], condition={"gte": 2, "field": "bytes", "percentile": 100}),
            "unsupported_condition",
        ),
        (corr("temporal_ordered", ["rule_a", "rule_b"], condition={"lt": 2}), "unsupported_condition"),
        (corr("temporal_ordered", ["rule_a", "rule_b"], condition="rule_a or rule_b"), "unsupported_condition"),
    ],
)
def test_unsupported_rules_are_rejected_with_a_reason(doc: str, reason: str) -> None:
    with pytest.raises(RuleError) as err:
        engine(doc)
    assert err.value.reason == reason


def test_nesting_an_end_of_window_correlation_is_rejected() -> None:
    inner = corr(
        "event_count",
        ["rule_a"],
        condition={"lt": 2},
        meta={"id": "0b7e6a44-0000-4000-8000-0000000000dd", "name": "inner"},
    )
    outer = corr("temporal", ["inner", "rule_b"])
    with pytest.raises(RuleError) as err:
        engine(inner, outer)
    assert err.value.reason == "unsupported_nesting"


def test_aliases_map_one_group_name_to_a_field_per_rule() -> None:
    eng = engine(
        corr(
            "temporal",
            ["rule_a", "rule_b"],
            group_by=["account"],
            aliases={"account": {"rule_a": "TargetSid", "rule_b": "MemberSid"}},
        )
    )
    alerts = feed(
        eng,
        [(0, "a", A, {"winlog__event_data__TargetSid": "S-1"}), (1, "b", B, {"winlog__event_data__MemberSid": "S-1"})],
    )
    assert [(a.group, a.event_ids) for a in alerts] == [({"account": "S-1"}, ("a", "b"))]


# --- arrival order ------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    times=st.lists(st.integers(min_value=0, max_value=600), min_size=1, max_size=25),
    delays=st.lists(st.integers(min_value=0, max_value=60), min_size=25, max_size=25),
    threshold=st.integers(min_value=2, max_value=5),
)
def test_arrival_order_within_lateness_never_changes_whether_an_alert_fires(
    times: list[int], delays: list[int], threshold: int
) -> None:
    doc = corr("event_count", ["rule_a"], timespan="1m", condition={"gte": threshold})
    events = sorted(times)
    # Each event arrives up to 60 s after its timestamp, so none is later than the allowed lateness.
    arrival = sorted(range(len(events)), key=lambda i: (events[i] + delays[i], i))
    eng = engine(doc, allowed_lateness_secs=60)
    alerts = feed(eng, [(events[i], f"e{i}", A, {}) for i in arrival])
    expected = any(sum(1 for u in events if t <= u < t + 60) >= threshold for t in events)
    assert bool(alerts) == expected
    assert eng.stats().late_events == 0
    # No match is counted into two windows.
    final = {a.id: a for a in alerts}
    ids = [e for a in final.values() for e in a.event_ids]
    assert len(ids) == len(set(ids))
    assert sum(a.event_count for a in final.values()) <= len(events)
