"""Sigma 2.1 metric correlation types: value_sum, value_avg, value_median, value_percentile.

Each aggregates one numeric field over the matches of a window [first match, + timespan) and is
decided when the window closes (an aggregate can fall again), with exact alerts per type.
"""

from __future__ import annotations

from typing import Any

import pytest
from canhgac.rules.correlation import CorrelationEngine
from canhgac.rules.correlation_window import quantile

from tests.unit.rules.test_correlation import A, at, corr, engine, ev

USER = {"user__name": "alice"}


def metric(kind: str, condition: dict[str, Any], **options: Any) -> CorrelationEngine:
    return engine(corr(kind, ["rule_a"], group_by=["user.name"], condition=condition), **options)


def observe(
    eng: CorrelationEngine, values: list[Any], user: str = "alice", start: float = 0, step: float = 1
) -> list[Any]:
    out = []
    for i, value in enumerate(values):
        fields: dict[str, Any] = {"user__name": user}
        if value is not None:
            fields["http__response__bytes"] = value
        out += eng.observe(ev(f"{user}{i}", **fields), [A], at(start + i * step))
    return out


BYTES = "http.response.bytes"


def closed(eng: CorrelationEngine) -> list[tuple[str, float | None, int]]:
    return [(a.group["user.name"], a.value, a.count) for a in eng.advance(at(3600))]


def test_value_sum_fires_at_window_end_with_the_sum() -> None:
    eng = metric("value_sum", {"gte": 1000, "field": BYTES})
    assert observe(eng, [400, 300, "400"]) == []  # numeric text counts; decided at window end
    assert observe(eng, [400, 300], user="bob") == []
    [alert] = eng.advance(at(3600))
    assert (alert.group, alert.value, alert.count, alert.type) == ({"user.name": "alice"}, 1100.0, 3, "value_sum")
    assert alert.to_dict()["correlation"]["value"] == 1100.0


def test_value_sum_is_not_decided_early_because_values_can_be_negative() -> None:
    eng = metric("value_sum", {"gte": 10, "field": BYTES})
    assert observe(eng, [20, -15]) == []
    assert closed(eng) == []


def test_value_avg() -> None:
    eng = metric("value_avg", {"gt": 100, "field": BYTES})
    observe(eng, [50, 150, 250])
    observe(eng, [50, 150], user="bob")
    assert closed(eng) == [("alice", 150.0, 3)]


def test_value_median() -> None:
    eng = metric("value_median", {"gte": 100, "field": BYTES})
    observe(eng, [1, 1000, 100])
    observe(eng, [1, 2, 1000], user="bob")
    assert closed(eng) == [("alice", 100.0, 3)]


@pytest.mark.parametrize(("percentile", "fires"), [(95, True), (90, False)])
def test_value_percentile(percentile: int, fires: bool) -> None:
    eng = metric("value_percentile", {"gte": 95, "field": BYTES, "percentile": percentile})
    observe(eng, list(range(1, 101)))  # p95 = 95.05, p90 = 90.1 (linear interpolation)
    assert closed(eng) == ([("alice", pytest.approx(95.05), 100)] if fires else [])


def test_quantile_interpolates_like_numpy() -> None:
    assert quantile([3.0, 1.0, 2.0, 4.0], 50) == 2.5
    assert quantile([10.0], 99) == 10.0
    assert quantile([1.0, 2.0, 3.0, 4.0, 5.0], 25) == 2.0


def test_missing_or_non_numeric_values_are_counted_not_added() -> None:
    eng = metric("value_sum", {"gte": 5, "field": BYTES})
    observe(eng, [None, "n/a", True, float("inf"), 5])
    assert eng.stats().missing_field == 4
    assert closed(eng) == [("alice", 5.0, 1)]


def test_state_is_bounded_and_the_sum_stays_exact() -> None:
    eng = metric("value_median", {"gte": 0, "field": BYTES}, max_values_per_window=10)
    observe(eng, list(range(1000)), step=0.1)  # all in one 5-minute window
    windows = [w for groups in eng._groups for g in groups.values() for w in g.windows]
    assert [(len(w.samples), w.total, w.events) for w in windows] == [(10, float(sum(range(1000))), 1000)]
    [(_, median, count)] = closed(eng)
    assert count == 1000 and 0 <= median <= 999  # a sample's median once past the bound


def test_checkpoint_keeps_a_metric_windows_values() -> None:
    doc = {"gte": 10, "field": BYTES, "percentile": 50}
    eng = metric("value_percentile", doc)
    observe(eng, [5, 15])
    restored = metric("value_percentile", doc)
    restored.restore(eng.checkpoint())
    observe(restored, [25], start=2)
    observe(eng, [25], start=2)
    assert closed(restored) == closed(eng) == [("alice", 15.0, 3)]
