"""The native route (native/src/lib.rs via rules/native.py) decides exactly as the Python engine.

The Python engine is the reference: every check here evaluates both on the same events. Events
the native side does not read exactly as Python does must come back to Python (None), never be
decided differently.
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from canhgac.pipeline.normalize.windows import from_evtx_json
from canhgac.rules import native
from canhgac.rules.engine import Engine
from canhgac.rules.loader import load_rules
from canhgac.rules.regex_engine import compile_regex
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from .support import event, load, rule

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "conformance" / "sigmahq"


def test_the_native_matcher_is_built() -> None:
    # deploy/local/install.sh builds it; without it every check below would compare Python with itself
    assert native.available(), "canhgac_native is not installed: run deploy/local/install.sh"


def _engines(detection: str, logsource: str = "product: test") -> tuple[Engine, Engine]:
    result = load(rule(detection, logsource))
    assert not result.rejected, result.rejected
    fast = Engine(result.rules, native=True)
    return fast, Engine(result.rules, native=False)


def _encodings(ev: dict[str, Any]) -> list[bytes]:
    """The event's JSON as orjson writes it and in other valid styles (escaped non-ASCII, spaces)."""
    out = [
        json.dumps(ev, ensure_ascii=True).encode(),
        json.dumps(ev, indent=1, ensure_ascii=False).encode("utf-8", "surrogatepass"),
    ]
    try:
        out.append(orjson.dumps(ev))
    except TypeError:  # past 64 bits, a lone surrogate: orjson refuses to write it
        pass
    return out


def _decide(engines: tuple[Engine, Engine], ev: dict[str, Any]) -> tuple[bool, bool | None]:
    """(the Python engine's verdict, the native route's own: None when it handed the event back).
    The byte path (Engine.match_json, the detector's) decides as the dict path on every encoding."""
    fast, reference = engines
    expected = bool(reference.match(ev))
    assert bool(fast.match(ev)) == expected
    route = fast._route(ev)
    assert route.native is not None
    done = route.native.match_event(ev)
    verdict = None if done is None else bool(done[0])
    for raw in _encodings(ev):
        found = fast.match_json(raw)
        assert (None if found is None else bool(found)) == verdict, raw
    return expected, verdict


DETECTION = """
sel_img:
  Image|endswith: '\\cmd.exe'
sel_cli:
  CommandLine|contains|all: ['/c', 'whoami']
sel_cased:
  Name|cased: 'Admin'
sel_re:
  CommandLine|re: '\\d{3}\\s\\w+'
sel_ref:
  ParentImage|fieldref: Image
filter_null:
  User: null
condition: (sel_img and sel_cli and not filter_null) or sel_cased or sel_re or (sel_ref and sel_img)
"""


@pytest.mark.parametrize(
    ("fields", "expected", "native_decides"),
    [
        ({"Image": "C:\\Windows\\CMD.EXE", "CommandLine": "cmd /c WhoAmI", "User": "x"}, True, True),
        ({"Image": "C:\\Windows\\cmd.exe", "CommandLine": "cmd /c whoami"}, False, True),  # User null
        ({"Name": "Admin"}, True, True),
        ({"Name": "admin"}, False, True),  # cased
        ({"CommandLine": "run 123 job"}, True, True),
        ({"CommandLine": "run ١٢٣ job"}, False, True),  # RE2's \d is ASCII: Arabic-Indic digits are not
        ({"CommandLine": "run 123\u00a0job"}, False, True),  # nor is \s a no-break space
        ({"Image": "c:\\a\\cmd.exe", "ParentImage": "C:\\A\\CMD.exe"}, True, True),
        ({"Image": "STRASSE\\cmd.exe", "CommandLine": "/c whoami", "User": "ß"}, True, True),  # casefold
        ({"Image": 12, "User": 0}, False, True),  # ints read as their text
        # values only the Python engine reads: handed back, decided the same
        ({"Image": ["a", "C:\\cmd.exe"], "CommandLine": "/c whoami", "User": "u"}, True, None),
        ({"Image": 1.5}, False, None),
        ({"Image": True}, False, None),
        ({"Image": 2**70}, False, None),
        ({"Name": "Admin\ud800"}, False, None),  # a lone surrogate (hand-made JSON)
        ({"a.b": "x", "Name": "Admin"}, True, None),  # a dotted top-level key overrides nested values
    ],
)
def test_native_and_python_agree_and_odd_values_go_back_to_python(
    fields: dict[str, Any], expected: bool, native_decides: bool | None
) -> None:
    verdict, native_verdict = _decide(_engines(DETECTION), event(fields))
    assert verdict is expected
    assert native_verdict == (expected if native_decides else None)


def test_aliased_fields_take_the_branch_of_the_routes_source() -> None:
    # Image reads NewProcessName on Security events (rules/fieldmap.py): per_source resolved per route
    detection = "sel:\n  Image|endswith: '\\\\calc.exe'\ncondition: sel"
    engines = _engines(detection, "product: windows\n    category: process_creation")
    security = {
        "winlog": {"event_data": {"NewProcessName": "C:\\calc.exe"}},
        "canhgac": {"logsource": {"product": "windows", "category": "process_creation", "service": "security"}},
    }
    sysmon = {
        "winlog": {"event_data": {"Image": "C:\\calc.exe", "NewProcessName": "C:\\x.exe"}},
        "canhgac": {"logsource": {"product": "windows", "category": "process_creation", "service": "sysmon"}},
    }
    assert _decide(engines, security) == (True, True)
    assert _decide(engines, sysmon) == (True, True)
    security["winlog"]["event_data"] = {"Image": "C:\\calc.exe"}  # type: ignore[index]
    assert _decide(engines, security) == (False, False)


def test_a_condition_that_raises_costs_that_rule_on_that_event_only(caplog: pytest.LogCaptureFixture) -> None:
    text = (
        rule("sel:\n  a: x\ncondition: sel")
        + "---\n"
        + rule("sel:\n  a|re: 'x'\ncondition: sel").replace(
            "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
        )
    )
    result = load(text)
    engine = Engine(result.rules, native=True)
    regex_rule = next(r for r in engine.rules if r.meta.id.startswith("2222"))
    ev = event({"a": "x"})
    assert [r.meta.id[:4] for r in engine.match_rules(ev)] == ["1111", "2222"]

    def broken(_ctx: Any) -> bool:
        raise RuntimeError("matcher bug")

    # a hand-made rule without a plan is one Python closure on the native route
    regex_rule.plan = None
    regex_rule.predicate = broken
    engine = Engine(result.rules, native=True)
    with caplog.at_level(logging.ERROR):
        assert [r.meta.id[:4] for r in engine.match_rules(ev)] == ["1111"]
    assert engine.evaluation_errors == 1
    assert "matcher bug" in caplog.text


@pytest.mark.parametrize(
    ("pattern", "translated"),
    [
        (r"\d+\s\w\b", r"[0-9]+[\t\n\f\r ][0-9A-Za-z_](?-u:\b)"),
        (r"[\d.]+", r"[[0-9].]+"),
        (r"[[]x", r"[\[]x"),
        (r"[]a]", r"[\]a]"),
        (r"[[:alpha:]]+", r"[[:alpha:]]+"),
        (r"(?i)a.b$", r"(?i)a.b$"),
        (r"\pL", None),  # Unicode tables of two engines: left to RE2
        (r"\Qa.b\E", None),
        (r"[a&&b]", None),  # a set operation in the native syntax, two members in RE2
        (r"[\b]", None),
    ],
)
def test_regex_translation(pattern: str, translated: str | None) -> None:
    assert native.native_regex(pattern) == translated


_TEXTS = st.text(alphabet=st.sampled_from("aZ09_ \t\n\u00a0١é.-\\[]:ſKk"), max_size=12)
_PATTERNS = st.sampled_from(
    [r"\d", r"\w+\b", r"^\s", r"\S$", r"[\d\s]", r"(?i)k", r"(?i)s", r"\bZ", r"\B9", r"[^\w]", r"(?m)^a$", r"(?s)a.b"]
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pattern=_PATTERNS, text=_TEXTS)
@example(pattern=r"\d", text="١")
@example(pattern=r"(?i)k", text="\u212a")
def test_translated_regexes_find_what_re2_finds(pattern: str, text: str) -> None:
    translated = native.native_regex(pattern)
    assert translated is not None
    result = load(rule(f"sel:\n  a|re: '{pattern}'\ncondition: sel"))
    fast = Engine(result.rules, native=True)
    ev = event({"a": text})
    assert bool(fast.match(ev)) == compile_regex(pattern).search(text)


_VALUES = st.one_of(
    st.none(),
    st.integers(-5, 5),
    st.sampled_from(["", "x", "X", "cmd.exe", "C:\\Windows\\cmd.exe", "/c whoami", "ß", "SS", "İ", "admin", "Admin"]),
    st.lists(st.sampled_from(["x", "cmd.exe"]), max_size=2),
)
_FIELDS = st.dictionaries(st.sampled_from(["Image", "CommandLine", "User", "Name", "ParentImage"]), _VALUES)
_DETECTIONS = [
    DETECTION,
    "sel:\n  Image|startswith: ['c:\\\\', 'x']\n  User|exists: true\ncondition: sel",
    "sel:\n  Image: '*cmd*'\nfilter:\n  CommandLine: ''\ncondition: sel and not filter",
    "sel:\n  User: ['ss', 'İ', 0, 3]\ncondition: sel",
    "sel:\n  Name|contains: x\n  Image|fieldref|endswith: Name\ncondition: sel",
    "sel:\n  CommandLine|windash|contains: '-c'\ncondition: sel or not 1 of sel*",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, len(_DETECTIONS) - 1), fields=_FIELDS)
def test_native_and_python_agree_on_random_events(which: int, fields: dict[str, Any]) -> None:
    _decide(_engines(_DETECTIONS[which]), event(fields))


@pytest.fixture(scope="module")
def corpus_rules() -> list[Any]:
    assert CORPUS.exists(), f"conformance corpus not found at {CORPUS}"
    return load_rules([CORPUS / "rules"]).rules


def _corpus_events() -> list[dict[str, Any]]:
    """The conformance events, each also with ordinary values in the fields most rules read and
    with 1 KB of extra command-line text (as bench/bench_sigma.py streams them)."""
    raw = [
        orjson.loads(line)
        for f in sorted((CORPUS / "dev" / "events").glob("*.ndjson"))
        for line in f.read_bytes().splitlines()
        if line.strip()
    ]
    out = [from_evtx_json(obj) for obj in raw]
    rng = random.Random(3)
    for obj in raw:
        data = obj["Event"].get("EventData") or {}
        n = rng.randrange(1000)
        for key in ("Image", "ParentImage", "TargetFilename", "TargetObject"):
            if isinstance(data.get(key), str):
                data[key] = f"C:\\Program Files\\Vendor{n}\\app{n}.exe"
        if isinstance(data.get("CommandLine"), str):
            data["CommandLine"] += " " + " ".join(f"--option{i} value{i}" for i in range(80))
        out.append(from_evtx_json(obj))
    return out


def test_the_whole_corpus_decides_alike_on_the_native_route(corpus_rules: list[Any]) -> None:
    fast = Engine(corpus_rules, native=True)
    reference = Engine(corpus_rules, native=False)
    events = _corpus_events()
    handed_back, matched = 0, 0
    for ev in events:
        expected = [meta.id for meta in reference.match_all_applicable(ev)]
        assert [r.meta.id for r in fast.match_rules(ev)] == expected, ev
        route = fast._route(ev)
        if route.native is None or route.native.match_event(ev) is None:
            handed_back += 1
        # the detector's byte path: the normalizer's output read natively, never handed back
        found = fast.match_json(orjson.dumps(ev))
        assert found is not None and [meta.id for meta in found] == expected, ev
        matched += bool(expected)
    assert fast.evaluation_errors == reference.evaluation_errors == 0
    # every Windows route is native, and the evtx parser's events are read natively, not handed back
    assert all(route.native is not None for route in fast._routes.values())
    assert handed_back == 0
    assert matched >= 100  # the conformance events are attacks: most match


def test_plan_strings_are_read_as_string_shape_reads_them(corpus_rules: list[Any]) -> None:
    """native._shape reads plan.string_parts' tuples directly: the same shape as matchers.string_shape
    on all 50,000 string values of the corpus, cased and folded."""
    from canhgac.rules.matchers import string_shape
    from canhgac.rules.plan import sigma_string

    values: list[Any] = []

    def walk(plan: Any) -> None:
        if plan[0] in ("and", "or"):
            for part in plan[1]:
                walk(part)
        elif plan[0] == "not":
            walk(plan[1])
        elif plan[0] == "per_source":
            walk(plan[1])
            for _, branch in plan[2]:
                walk(branch)
        elif plan[0] == "leaf" and plan[1] == "strings":
            values.extend(plan[2][1])

    for compiled in corpus_rules:
        walk(compiled.plan)
    assert len(values) > 40_000
    for value in values:
        for cased in (False, True):
            ours = native._shape(value, cased)
            theirs = string_shape(sigma_string(value), fold_wildcard=not cased)
            if ours[0] == "wildcard":  # a Glob object each time: compare its kind only
                assert theirs[0] == "wildcard"
            else:
                assert ours == theirs, value


# The JSON reader (native/src/json.rs): what it reads equals what the Python engine reads from
# orjson's dict, and it never accepts a document orjson refuses (the detector would then skip
# the dead-letter queue for it).


def _python_reads(obj: Any, path: list[str]) -> Any:
    """context.lookup on orjson's dict, as the native route sees it: str, int, None, or Ellipsis
    for what it hands back to the Python engine."""
    node = obj
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return None
    if isinstance(node, str) or (type(node) is int and -(2**63) <= node < 2**63):
        return node
    return ...


_KEYS = st.sampled_from(["a", "b", "Image", "é", 'k"q', "x.y", ""])
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
)
_JSON = st.recursive(
    _SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4), max_leaves=12
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    obj=st.dictionaries(st.sampled_from(["a", "b", "Image", "é", 'k"q', ""]), _JSON, max_size=5),
    style=st.sampled_from(["orjson", "ascii", "indent"]),
    path=st.lists(_KEYS, min_size=1, max_size=3),
)
def test_the_json_reader_reads_what_orjson_reads(obj: dict[str, Any], style: str, path: list[str]) -> None:
    try:
        raw = {
            "orjson": lambda: orjson.dumps(obj),
            "ascii": lambda: json.dumps(obj).encode(),
            "indent": lambda: json.dumps(obj, indent=2, ensure_ascii=False).encode(),
        }[style]()
    except TypeError:  # orjson writes no integer past 64 bits
        return
    event = native.parse_json(raw)
    if any(not -(2**63) <= v < 2**64 for v in _ints(obj)):
        assert event is None  # orjson reads it as a float: the native reader leaves it to orjson
        return
    assert event is not None, raw
    assert event.value_at(path) == _python_reads(orjson.loads(raw), path)


def _ints(obj: Any) -> list[int]:
    if isinstance(obj, dict):
        return [i for v in obj.values() for i in _ints(v)]
    if isinstance(obj, list):
        return [i for v in obj for i in _ints(v)]
    return [obj] if type(obj) is int else []


@pytest.mark.parametrize(
    ("raw", "path", "expected"),
    [
        (b'{"a": "x", "a": "y"}', ["a"], "y"),  # a repeated key: the last one, as in a dict
        (b'{"p": {"a": "1"}, "p": {"b": "2"}}', ["p", "a"], None),  # the last object replaces the first
        (b'{"p": {"a": "1"}, "p": {"b": "2"}}', ["p", "b"], "2"),
        (b'{"p": {"x.y": "1"}}', ["p", "x.y"], "1"),  # a dotted key below the top level is a plain key
        (b'{"p": "C:\\\\W\\u00e9\\ud83d\\ude00\\n\\"q\\/"}', ["p"], 'C:\\W\u00e9\U0001f600\n"q/'),
        (b'{"p": -0, "q": 9223372036854775807, "r": 9223372036854775808, "s": 1e2, "t": true}', ["p"], 0),
        (b'{"p": -0, "q": 9223372036854775807, "r": 9223372036854775808}', ["q"], 2**63 - 1),
        (b'{"p": 1, "r": 9223372036854775808}', ["r"], ...),  # past i64: the Python engine reads it
        (b'{"s": 1e2}', ["s"], ...),
        (b'{"t": true, "l": []}', ["l"], ...),
        (b'{"o": {}}', ["o"], ...),
        (b'{"n": null}', ["n", "deeper"], None),
        (b' \t\r\n{ "a" : [ 1 , { "b" : 2 } ] , "c" : "d" } \n', ["c"], "d"),
    ],
)
def test_the_json_reader_on_edge_cases(raw: bytes, path: list[str], expected: Any) -> None:
    assert _python_reads(orjson.loads(raw), path) == expected  # the reference first
    event = native.parse_json(raw)
    assert event is not None
    assert event.value_at(path) == expected


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": 1,}',
        b"{'a': 1}",
        b'{"a": NaN}',
        b'{"a": 01}',
        b'{"a": 1.}',
        b'{"a": -}',
        b'{"a": "tab\there"}',  # a raw control character
        b'{"a": "\\x41"}',  # an invalid escape
        b'{"a": "\\u12"}',
        b'{"a": "\\ud800"}',  # a lone surrogate: orjson reads it, the native reader leaves it to orjson
        b'{"a": "\xff"}',  # not UTF-8
        b'{"a": 1} {"b": 2}',
        b'{"a": 18446744073709551616}',  # past u64: orjson reads it as a float
        b'{"a": -9223372036854775809}',  # below i64: orjson reads it as a float
        b'["not", "an", "object"]',
        b'"text"',
        b'{"a.b": "x"}',  # a dotted top-level key overrides the nested path (context.lookup)
        b'{"a": ' * 70 + b"1" + b"}" * 70,  # deeper than the native reader goes
        b"",
        b'{"a": "unterminated}',
    ],
)
def test_the_json_reader_leaves_to_orjson_what_it_does_not_read(raw: bytes) -> None:
    assert native.parse_json(raw) is None


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_json_reader_accepts_nothing_orjson_refuses(data: st.DataObject) -> None:
    """Bytes mutated from a valid event: whatever the native reader accepts, orjson reads as an object."""
    raw = bytearray(orjson.dumps({"a": "C:\\x\u00e9", "b": [1, 2.5, True, None], "c": {"d": -7, "e": ""}}))
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["replace", "delete", "insert"]))
        byte = data.draw(st.sampled_from(list(b'{}[]",:\\0129-+.eEtfnul \t\x00\x1f\x7f\xc3\xa9\xff')))
        if action == "replace":
            raw[at] = byte
        elif action == "delete":
            del raw[at]
        else:
            raw.insert(at, byte)
    if native.parse_json(bytes(raw)) is not None:
        assert isinstance(orjson.loads(bytes(raw)), dict), bytes(raw)
