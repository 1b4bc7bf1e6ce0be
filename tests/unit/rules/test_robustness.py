"""Odd events never crash the matcher; regexes RE2 cannot run are refused at load time."""

from __future__ import annotations

from typing import Any

from canhgac.rules.engine import Engine
from hypothesis import given, settings
from hypothesis import strategies as st

from .support import load, rule

DETECTION = """
sel:
  a|contains: [abc, 'x*y']
  b|re: 'q+r'
  c|cidr: 10.0.0.0/8
  d|gt: 3
  e: null
  f|fieldref: a
  g|base64offset|contains: hi
filter:
  h|exists: true
keywords:
  - needle
condition: (sel and not filter) or keywords or 1 of them
"""

ENGINE = Engine(load(rule(DETECTION)).rules)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([*list("abcdefgh"), "message"]), json_values, max_size=9))
def test_any_json_values_never_raise(fields: dict[str, Any]) -> None:
    ev = {**fields, "canhgac": {"logsource": {"product": "test"}}}
    assert ENGINE.match(ev) == ENGINE.match_all_applicable(ev)
    assert ENGINE.evaluation_errors == 0


def test_non_dict_events_and_odd_logsources() -> None:
    for ev in (
        None,
        [],
        "text",
        3,
        {"canhgac": "x"},
        {"canhgac": {"logsource": {"product": ["windows"]}}},
        {"canhgac": {"logsource": {"product": {"x": 1}}}},
    ):
        assert ENGINE.match(ev) == []


def test_huge_string() -> None:
    ev = {"a": "z" * 5_000_000, "message": "z" * 5_000_000 + " needle", "canhgac": {"logsource": {"product": "test"}}}
    assert ENGINE.match(ev)
    ev["message"] = "z" * 5_000_000
    assert not ENGINE.match(ev)


def test_regex_re2_cannot_run_rejected_at_load_time() -> None:
    # Nested quantifiers are fine on RE2 (test_linear_matching.py); lookaround is not linear.
    result = load(rule("sel:\n  a|re: '(?<=x)(\\w+\\s?)*$'\ncondition: sel"))
    assert [r.reason for r in result.rejected] == ["unsupported regex"]
