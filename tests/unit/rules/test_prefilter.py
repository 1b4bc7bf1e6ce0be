"""The pre-filter skips rules that cannot match and never one that can.

`matches()` (support.py) already asserts the pre-filtered engine agrees with evaluating every
rule; these cases aim at the pre-filter's own paths: one-character and non-ASCII literals, regex
literals, numbers, negations, dotted keys, clauses dropped per route.
"""

from __future__ import annotations

from typing import Any

import pytest
from canhgac.rules.engine import Engine
from canhgac.rules.model import CompiledRule
from hypothesis import given, settings
from hypothesis import strategies as st

from .support import event, load, matches, rule


def compiled(detection: str) -> list[CompiledRule]:
    result = load(rule(detection))
    assert not result.rejected, result.rejected
    return result.rules


def is_candidate(detection: str, fields: dict[str, Any]) -> bool:
    return bool(Engine(compiled(detection)).candidates(event(fields)))


def test_one_ascii_character_literal_filters() -> None:
    det = "sel:\n  a|contains: '`'\ncondition: sel"
    assert matches(det, {"a": "IN`V`o`Ke"})
    assert not matches(det, {"a": "invoke"})
    assert not is_candidate(det, {"a": "invoke"})


def test_short_non_ascii_literals_follow_casefold() -> None:
    sharp_s = "sel:\n  a|contains: 'ß'\ncondition: sel"
    assert matches(sharp_s, {"a": "Straße"})
    assert matches(sharp_s, {"a": "STRASSE"})  # casefold("ß") == "ss"
    assert not matches(sharp_s, {"a": "strase"})
    sigma = "sel:\n  a|contains: 'Σ'\ncondition: sel"
    assert matches(sigma, {"a": "λόγος"})  # final sigma folds with Σ
    dotted_i = "sel:\n  a|contains: 'İ'\ncondition: sel"
    assert matches(dotted_i, {"a": "İSTANBUL"})
    assert not matches(dotted_i, {"a": "istanbul"})
    emoji = "sel:\n  a|contains: '😀'\ncondition: sel"
    assert matches(emoji, {"a": "run 😀 now"})
    assert not is_candidate(emoji, {"a": "run now"})


def test_regex_literals_are_necessary_conditions() -> None:
    plain = "sel:\n  a|re: 'ab+c'\ncondition: sel"
    assert matches(plain, {"a": "xABBBC"}) is False  # case-sensitive
    assert matches(plain, {"a": "xabbbc"})
    assert not is_candidate(plain, {"a": "xyz"})
    # under (?i) the Kelvin sign matches k and ſ matches s: the literals still let those through
    assert matches("sel:\n  a|re: '(?i)admin'\ncondition: sel", {"a": "ADMIN"})
    assert matches("sel:\n  a|re|i: 'kelvin'\ncondition: sel", {"a": "\u212aELVIN"})
    assert matches("sel:\n  a|re|i: 'sam'\ncondition: sel", {"a": "\u017fAM"})
    # no literal at all: always a candidate
    assert matches("sel:\n  a|re: '\\d{3}'\ncondition: sel", {"a": "x123"})


def test_conditions_that_hold_without_any_literal() -> None:
    assert matches("sel:\n  a: x\ncondition: not sel", {})
    assert matches("sel:\n  a: x\ncondition: not sel", {"a": "y"})
    one_of = "sel:\n  a|contains: needle\nother:\n  b|exists: true\ncondition: 1 of them"
    assert matches(one_of, {"b": 1})
    assert matches("sel:\n  a: null\ncondition: sel", {})
    assert matches("sel:\n  a|exists: false\ncondition: sel", {"b": "x"})
    assert matches("kw:\n  - needle\nsel:\n  a: null\ncondition: kw or sel", {})


def test_numbers_reach_the_rule_in_every_form() -> None:
    det = "sel:\n  EventID: 16\ncondition: sel"
    for value in (16, "16", " 16 ", "0x10", 16.0, [1, 16], "1.6e1"):
        assert matches(det, {"EventID": value}), value
    for value in (17, True, "sixteen", None, {"x": 16}, 10**400, -(10**400)):
        assert not matches(det, {"EventID": value}), value
    assert not is_candidate(det, {"EventID": 4688})
    assert matches("sel:\n  EventID: 4688\n  a|endswith: '.exe'\ncondition: sel", {"EventID": "4688", "a": "C.EXE"})


def test_huge_and_odd_numbers_never_raise() -> None:
    engine = Engine(compiled("sel:\n  n: 3\nbig:\n  m|gt: 5\ncondition: sel or big"))
    for value in (10**400, -(10**400), float("nan"), float("inf"), "nan", "1e400"):
        ev = event({"n": value, "m": value})
        assert engine.match(ev) == engine.match_all_applicable(ev)
    assert engine.evaluation_errors == 0


def test_strings_match_numbers_and_lists() -> None:
    assert matches("sel:\n  a: '12'\ncondition: sel", {"a": 12})
    assert matches("sel:\n  a|contains: foo\ncondition: sel", {"a": ["x", "a FOO b"]})
    assert matches("sel:\n  a: 'true'\ncondition: sel", {"a": True})


def test_flat_dotted_key_overrides_the_nested_value() -> None:
    det = "sel:\n  x.y: foo\ncondition: sel"
    assert matches(det, {"x": {"y": "foo"}})
    assert matches(det, {"x.y": "FOO", "x": {"y": "bar"}})
    assert not matches(det, {"x.y": "bar", "x": {"y": "foo"}})
    assert not matches(det, {"x": "foo"})


def test_rarely_used_fields_are_not_scanned_when_another_clause_filters() -> None:
    single = compiled("sel:\n  a|contains: alphaword\ncondition: sel")
    strong = compiled("sel:\n  a|contains: betalongvalue\n  b: zeta\ncondition: sel")
    weak = compiled("sel:\n  a|contains: ab\n  c: strongliteralvalue\ncondition: sel")
    engine = Engine(single + strong + weak)
    route = engine._route(event({}))
    assert "a" in route.fields and "c" in route.fields
    assert "b" not in route.fields  # `strong` keeps only its clause on `a`
    hit = event({"a": "xbetalongvaluex", "b": "zeta"})
    assert [m.title for m in engine.match(hit)] == ["Test rule"]
    assert engine.match(hit) == engine.match_all_applicable(hit)
    assert not engine.candidates(event({"a": "ab", "c": "other"}))


def test_more_clauses_than_layers_are_refused() -> None:
    rules = compiled("sel:\n  a: x\ncondition: sel")
    literal = rules[0].prefilter[0][0]
    rules[0].prefilter = ((literal,),) * 4
    with pytest.raises(ValueError):
        Engine(rules).candidates(event({}))


PROPERTY_RULES = [
    r
    for det in (
        "sel:\n  a|contains: [ab, '`', 'ß', 'İ']\ncondition: sel",
        "sel:\n  a: [Ab, 'x y']\n  b|startswith: q\ncondition: sel",
        "sel:\n  b|re: '(?i)q+i'\ncondition: sel",
        "sel:\n  c: 7\n  a|endswith: b\ncondition: sel",
        "sel:\n  c: 7\ncondition: not sel",
        "sel:\n  d|cased: Ab\nkw:\n  - 'ab'\ncondition: sel or kw",
        "sel:\n  a|fieldref: b\ncondition: sel",
        "sel:\n  a|contains|all: [a, b, x, y]\n  b|contains: q\n  c|gt: 3\ncondition: sel",
    )
    for r in compiled(det)
]
PROPERTY_ENGINE = Engine(PROPERTY_RULES)
scalars = st.one_of(
    st.sampled_from(["ab", "AB", "`", "ß", "SS", "İ", "i̇", "ı", "x y", "q", "QI", "7", " 7", "0x7", "b"]),
    st.text(alphabet="abqxyßİı` 7", max_size=8),
    st.integers(-3, 10),
    st.none(),
)


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["a", "b", "c", "d", "message"]), scalars | st.lists(scalars, max_size=3), max_size=5
    )
)
def test_prefilter_agrees_with_evaluating_every_rule(fields: dict[str, Any]) -> None:
    ev = event(fields)
    assert PROPERTY_ENGINE.match(ev) == PROPERTY_ENGINE.match_all_applicable(ev)
