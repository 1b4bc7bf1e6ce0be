"""Issue 10 finding 2: no rule and no event can make matching backtrack.

The patterns below held the process for seconds on a 72-character line with Python's `re` (and the
time doubles with each character). The lines here are thousands of characters long, so a
backtracking engine would need longer than any test run; a linear one needs milliseconds. Matching
runs in a child process that the test waits for: a backtracking match holds the GIL and could not be
interrupted from inside the test process, so the test fails (child still running after the wait)
instead of hanging.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import pytest
from canhgac.rules.engine import Engine
from canhgac.rules.regex_engine import LinearRegex, translate
from hypothesis import given, settings
from hypothesis import strategies as st

from .support import event, load, matches, rule

CHILD_WAIT_SECS = 120  # a linear match of these lines takes milliseconds; backtracking, centuries


def match_in_child(detection: str, fields: dict[str, object]) -> list[str]:
    """The engine's matches of one event, computed in a child process (see the module docstring)."""
    code = textwrap.dedent(
        f"""
        import json, sys
        from canhgac.rules.engine import Engine
        from canhgac.rules.loader import load_text
        loaded = load_text({rule(detection)!r}, "inline.yml")
        assert not loaded.rejected, loaded.rejected
        engine = Engine(loaded.rules)
        ev = json.loads(sys.stdin.read())
        ev["canhgac"] = {{"logsource": {{"product": "test"}}}}
        print(json.dumps([m.id for m in engine.match(ev)] + ["|"] + [m.id for m in engine.match_all_applicable(ev)]))
        """
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            input=json.dumps(fields),
            capture_output=True,
            text=True,
            timeout=CHILD_WAIT_SECS,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("matching one event did not finish: the engine backtracks")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    split = out.index("|")
    fast, plain = out[:split], out[split + 1 :]
    assert fast == plain
    return fast


RULE_ID = "11111111-1111-4111-8111-111111111111"


def test_wildcard_value_does_not_backtrack_on_a_long_line() -> None:
    det = "sel:\n  message: '*a*a*a*a*a*a*b'\ncondition: sel"
    assert match_in_child(det, {"message": "a" * 5000}) == []
    assert match_in_child(det, {"message": "a" * 5000 + "b"}) == [RULE_ID]


def test_wildcard_keyword_does_not_backtrack_on_a_long_line() -> None:
    det = "keywords:\n  - 'a*a*a*a*a*a*a*c'\ncondition: keywords"
    assert match_in_child(det, {"message": "a" * 5000 + "b"}) == []


@pytest.mark.parametrize(
    "pattern", ["(a|a)*$", "a*a*a*a*a*a*a*b", "^(\\w+\\s?)*$", "(a+)+$", "(?:.*a){1,}c", "(x+x+)+y"]
)
def test_regexes_that_backtrack_in_python_load_and_run_linearly(pattern: str) -> None:
    det = f"sel:\n  message|re: '{pattern}'\ncondition: sel"
    line = "a" * 5000 + "!" if "x" not in pattern else "x" * 5000
    found = match_in_child(det, {"message": line})
    # Each answer is the regex's true answer (RE2 and Python agree on it, Python only slowly).
    short = line[:12] + line[-1]
    assert found == ([RULE_ID] if re.search(pattern, short) else [])


@pytest.mark.parametrize(
    ("pattern", "construct"),
    [
        ("foo(?=bar)", "lookahead"),
        ("(?<!x)foo", "lookbehind"),
        ("(a)\\1", "backreference"),
        ("(?P<q>a)(?P=q)", "named backreference"),
        ("(?>a+)b", "atomic group"),
    ],
)
def test_regex_re2_cannot_run_is_refused_with_a_reason(pattern: str, construct: str) -> None:
    result = load(rule(f"sel:\n  message|re: '{pattern}'\ncondition: sel"))
    assert not result.rules, construct
    assert [r.reason for r in result.rejected] == ["unsupported regex"], construct
    assert "linear time" in result.rejected[0].message


def test_invalid_regex_keeps_its_own_reason() -> None:
    result = load(rule("sel:\n  message|re: '(unclosed'\ncondition: sel"))
    assert [r.reason for r in result.rejected] == ["invalid regex"]


def test_python_spellings_are_translated() -> None:
    assert translate(r"a\Z") == r"a\z"
    assert translate(r"x{,3}y") == "x{0,3}y"
    assert translate(r"\u00e9") == r"\x{00e9}"
    assert translate(r"[\Z{,3}]") == r"[\Z{,3}]"  # inside a class nothing changes
    assert translate(r"\\Z") == r"\\Z"  # an escaped backslash then a literal Z
    assert LinearRegex(r"end\Z").search("the end") and not LinearRegex(r"end\Z").search("end.")
    assert LinearRegex(r"^x{,3}$").search("xx") and not LinearRegex(r"^x{,3}$").search("xxxx")
    assert LinearRegex(r"caf\u00e9").search("café")


def test_regex_flags_and_non_ascii_text() -> None:
    assert matches("sel:\n  message|re|i: 'ĐIỆN'\ncondition: sel", {"message": "cổng điện tử"})
    assert not matches("sel:\n  message|re: 'ĐIỆN'\ncondition: sel", {"message": "cổng điện tử"})
    assert matches("sel:\n  message|re|s: 'a.b'\ncondition: sel", {"message": "a\nb"})
    assert not matches("sel:\n  message|re: 'a.b'\ncondition: sel", {"message": "a\nb"})
    assert matches("sel:\n  message|re|m: '^b$'\ncondition: sel", {"message": "a\nb\nc"})
    assert not matches("sel:\n  message|re: '^b$'\ncondition: sel", {"message": "a\nb\nc"})
    # a lone surrogate (possible in hand-made JSON) does not break matching of the rest
    assert matches("sel:\n  message|re: 'tail'\ncondition: sel", {"message": "\ud800 tail"})


# --- the wildcard matcher agrees with the regex it replaced -----------------------------------

pieces = st.lists(st.sampled_from(["a", "b", "ab", "ba", "*", "?", "**", "aab"]), min_size=1, max_size=7)


def _reference(pattern: str, text: str) -> bool:
    source = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(source, text, re.DOTALL) is not None


@settings(max_examples=400, deadline=None)
@given(pieces, st.text(alphabet="abx\n", max_size=12))
def test_wildcards_match_as_the_backtracking_regex_did(parts: list[str], text: str) -> None:
    pattern = "".join(parts)
    escaped = pattern.replace("\\", "\\\\").replace("'", "''")
    result = load(rule(f"sel:\n  message|cased: '{escaped}'\ncondition: sel"))
    assert not result.rejected, result.rejected
    engine = Engine(result.rules)
    ev = event({"message": text})
    assert bool(engine.match(ev)) == _reference(pattern, text), (pattern, text)
    assert engine.match(ev) == engine.match_all_applicable(ev)


def test_backtest_conversion_refuses_what_the_matcher_refuses(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from canhgac.rules.convert import convert_rules
    from canhgac.rules.loader import Rejection

    path = tmp_path / "lookahead.yml"
    path.write_text(rule("sel:\n  message|re: 'foo(?=bar)'\ncondition: sel"), encoding="utf-8")
    rejected: list[Rejection] = []
    assert list(convert_rules([path], None, rejected)) == []
    assert [r.reason for r in rejected] == ["unsupported regex"]
    path.write_text(rule("sel:\n  message|re: '(a|a)*b'\ncondition: sel"), encoding="utf-8")
    assert len(list(convert_rules([path], None, []))) == 1
