"""Sigma value and condition semantics: a positive and a negative event for each feature."""

from __future__ import annotations

import base64

import pytest

from .support import matches

# --- field maps, lists, wildcards, case -----------------------------------------------------


def test_plain_value_is_case_insensitive_whole_value() -> None:
    det = "sel:\n  a: Foo\ncondition: sel"
    assert matches(det, {"a": "FOO"})
    assert not matches(det, {"a": "Foo bar"})
    assert not matches(det, {})


def test_map_fields_are_anded_and_list_values_ored() -> None:
    det = "sel:\n  a: [x, y]\n  b: z\ncondition: sel"
    assert matches(det, {"a": "y", "b": "Z"})
    assert not matches(det, {"a": "y", "b": "w"})
    assert not matches(det, {"a": "q", "b": "z"})


def test_list_of_maps_is_ored() -> None:
    det = "sel:\n  - a: 1x\n  - b: 2x\ncondition: sel"
    assert matches(det, {"b": "2x"})
    assert not matches(det, {"a": "2x"})


def test_wildcards_star_and_question_mark() -> None:
    det = "sel:\n  a: 'c:\\\\win*\\\\cmd?.exe'\ncondition: sel"
    assert matches(det, {"a": "C:\\Windows\\System32\\cmd1.exe"})
    assert not matches(det, {"a": "C:\\Windows\\cmd.exe"})


def test_escaped_wildcards_are_literal() -> None:
    det = "sel:\n  a: 'what\\*is\\?'\ncondition: sel"
    assert matches(det, {"a": "WHAT*IS?"})
    assert not matches(det, {"a": "whatXisY"})


def test_cased_modifier() -> None:
    det = "sel:\n  a|cased: MiXed\ncondition: sel"
    assert matches(det, {"a": "MiXed"})
    assert not matches(det, {"a": "mixed"})


def test_non_ascii_case_insensitive() -> None:
    det = "sel:\n  a|contains: 'ĐIỆN TỬ'\ncondition: sel"
    assert matches(det, {"a": "cổng điện tử tỉnh"})
    assert not matches(det, {"a": "dien tu"})


def test_final_sigma_folds_like_sigma() -> None:
    det = "sel:\n  a|contains: 'Σ'\ncondition: sel"
    assert matches(det, {"a": "ΟΔΟΣ"})  # lower() would turn this final Σ into ς
    assert not matches(det, {"a": "οδο"})


def test_numbers_in_events_match_string_values_and_vice_versa() -> None:
    assert matches("sel:\n  a: '4624'\ncondition: sel", {"a": 4624})
    assert matches("sel:\n  a: 4624\ncondition: sel", {"a": "4624"})
    assert not matches("sel:\n  a: 4624\ncondition: sel", {"a": 4625})
    assert not matches("sel:\n  a: 4624\ncondition: sel", {"a": "x4624"})


def test_booleans() -> None:
    det = "sel:\n  a: true\ncondition: sel"
    assert matches(det, {"a": True})
    assert matches(det, {"a": "true"})
    assert not matches(det, {"a": False})


def test_list_valued_event_field_matches_any_element() -> None:
    det = "sel:\n  a: b\ncondition: sel"
    assert matches(det, {"a": ["x", "B"]})
    assert not matches(det, {"a": ["x", "y"]})


def test_dotted_and_nested_paths() -> None:
    det = "sel:\n  source.ip: 10.0.0.1\ncondition: sel"
    assert matches(det, {"source": {"ip": "10.0.0.1"}})
    assert matches(det, {"source.ip": "10.0.0.1"})
    assert not matches(det, {"source": {"ip": "10.0.0.2"}})


# --- null, exists, empty --------------------------------------------------------------------


def test_null_means_absent_or_null() -> None:
    det = "sel:\n  a: x\n  b: null\ncondition: sel"
    assert matches(det, {"a": "x"})
    assert matches(det, {"a": "x", "b": None})
    assert not matches(det, {"a": "x", "b": "something"})
    assert not matches(det, {"a": "x", "b": ""})


def test_empty_string_is_a_value() -> None:
    det = "sel:\n  b: ''\ncondition: sel"
    assert matches(det, {"b": ""})
    assert not matches(det, {})


def test_exists() -> None:
    assert matches("sel:\n  b|exists: true\ncondition: sel", {"b": ""})
    assert not matches("sel:\n  b|exists: true\ncondition: sel", {"c": 1})
    assert matches("sel:\n  b|exists: false\ncondition: sel", {"c": 1})
    assert not matches("sel:\n  b|exists: false\ncondition: sel", {"b": 0})


# --- string modifiers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("modifier", "hit", "miss"),
    [
        ("contains", "xx needle yy", "xx needl yy"),
        ("startswith", "NEEDLE yy", "x needle"),
        ("endswith", "xx Needle", "needle x"),
    ],
)
def test_contains_startswith_endswith(modifier: str, hit: str, miss: str) -> None:
    det = f"sel:\n  a|{modifier}: needle\ncondition: sel"
    assert matches(det, {"a": hit})
    assert not matches(det, {"a": miss})


def test_all_modifier_ands_the_list() -> None:
    det = "sel:\n  a|contains|all: [one, two]\ncondition: sel"
    assert matches(det, {"a": "two and one"})
    assert not matches(det, {"a": "one only"})


def test_windash_expands_dash_variants() -> None:
    det = "sel:\n  a|windash|contains: ' -enc '\ncondition: sel"
    for dash in ("-", "/", "–", "—", "―"):
        assert matches(det, {"a": f"powershell {dash}enc AAA"})
    assert not matches(det, {"a": "powershell +enc AAA"})


def test_windash_with_all_still_ors_the_variants() -> None:
    det = "sel:\n  a|windash|contains|all: [' -a', ' -b']\ncondition: sel"
    assert matches(det, {"a": "x /a /b"})
    assert not matches(det, {"a": "x /a"})


def test_base64() -> None:
    det = "sel:\n  a|base64: secret\ncondition: sel"
    assert matches(det, {"a": base64.b64encode(b"secret").decode()})
    assert not matches(det, {"a": "secret"})


def test_base64offset_contains_finds_every_alignment() -> None:
    det = "sel:\n  a|base64offset|contains: 'http://'\ncondition: sel"
    for prefix in (b"", b"x", b"xy"):
        encoded = base64.b64encode(prefix + b"http://evil").decode()
        assert matches(det, {"a": f"cmd {encoded} end"})
    assert not matches(det, {"a": base64.b64encode(b"https://x").decode()})


@pytest.mark.parametrize(
    ("modifier", "encoding"), [("utf16le", "utf-16-le"), ("wide", "utf-16-le"), ("utf16be", "utf-16-be")]
)
def test_utf16_encodings_with_base64(modifier: str, encoding: str) -> None:
    det = f"sel:\n  a|{modifier}|base64offset|contains: 'Invoke'\ncondition: sel"
    blob = base64.b64encode("Invoke-Thing".encode(encoding)).decode()
    assert matches(det, {"a": "-enc " + blob})
    assert not matches(det, {"a": "-enc " + base64.b64encode(b"Invoke-Thing").decode()})


def test_utf16_with_bom_follows_pysigma_encoding() -> None:
    # pySigma writes the BOM as UTF-8 bytes EF BB BF (see docs/detection.md, known deviations)
    det = "sel:\n  a|utf16|base64: 'ab'\ncondition: sel"
    pysigma_form = base64.b64encode(b"\xef\xbb\xbfa\x00b\x00").decode()
    assert matches(det, {"a": pysigma_form})
    assert not matches(det, {"a": base64.b64encode(b"ab").decode()})


def test_re_is_case_sensitive_unanchored_search() -> None:
    det = "sel:\n  a|re: 'ab+c'\ncondition: sel"
    assert matches(det, {"a": "xxabbbcxx"})
    assert not matches(det, {"a": "xxABBCxx"})


def test_re_flags_i_m_s() -> None:
    assert matches("sel:\n  a|re|i: '^ABC$'\ncondition: sel", {"a": "abc"})
    assert not matches("sel:\n  a|re: '^ABC$'\ncondition: sel", {"a": "abc"})
    assert matches("sel:\n  a|re|m: '^two$'\ncondition: sel", {"a": "one\ntwo\nthree"})
    assert not matches("sel:\n  a|re: '^two$'\ncondition: sel", {"a": "one\ntwo\nthree"})
    assert matches("sel:\n  a|re|s: 'one.two'\ncondition: sel", {"a": "one\ntwo"})
    assert not matches("sel:\n  a|re: 'one.two'\ncondition: sel", {"a": "one\ntwo"})


def test_re_ignorecase_follows_unicode_simple_case_folding() -> None:
    # RE2 (as PCRE) folds by Unicode simple case folding: dotless ı and dotted İ are not i (Python's
    # re said they were); the Kelvin sign is k. `matches` also checks the pre-filter agrees.
    det = "sel:\n  a|re|i: 'mimikatz'\ncondition: sel"
    assert matches(det, {"a": "run MIMIKATZ now"})
    assert not matches(det, {"a": "run MİMİKATZ now"})
    assert not matches(det, {"a": "mımıkatz"})
    assert not matches(det, {"a": "mimi-katz"})
    assert matches("sel:\n  a|re|i: 'kelvin'\ncondition: sel", {"a": "\u212aELVIN"})


@pytest.mark.parametrize(
    ("cidr", "inside", "outside"),
    [
        ("10.1.0.0/16", "10.1.200.3", "10.2.0.1"),
        ("192.168.1.7/32", "192.168.1.7", "192.168.1.8"),
        ("2001:db8::/32", "2001:db8:ffff::1", "2001:db9::1"),
        ("fe80::/10", "fe80::1%eth0", "fec0::1"),
    ],
)
def test_cidr(cidr: str, inside: str, outside: str) -> None:
    det = f"sel:\n  ip|cidr: '{cidr}'\ncondition: sel"
    assert matches(det, {"ip": inside})
    assert not matches(det, {"ip": outside})
    assert not matches(det, {"ip": "not an ip"})


def test_expand_placeholder_from_configuration() -> None:
    det = "sel:\n  host|expand: '%servers%'\ncondition: sel"
    assert matches(det, {"host": "DC2"}, placeholders={"servers": ["dc1", "dc2"]})
    assert not matches(det, {"host": "ws1"}, placeholders={"servers": ["dc1", "dc2"]})


def test_fieldref() -> None:
    det = "sel:\n  a|fieldref: b\ncondition: sel"
    assert matches(det, {"a": "Same", "b": "same"})
    assert not matches(det, {"a": "one", "b": "two"})
    assert not matches(det, {"a": "one"})


def test_fieldref_startswith_endswith() -> None:
    assert matches("sel:\n  a|fieldref|startswith: b\ncondition: sel", {"a": "abc", "b": "ab"})
    assert not matches("sel:\n  a|fieldref|startswith: b\ncondition: sel", {"a": "abc", "b": "bc"})
    assert matches("sel:\n  a|fieldref|endswith: b\ncondition: sel", {"a": "abc", "b": "bc"})
    assert not matches("sel:\n  a|fieldref|endswith: b\ncondition: sel", {"a": "abc", "b": "ab"})


@pytest.mark.parametrize(("op", "hit", "miss"), [("gt", 11, 10), ("gte", 10, 9), ("lt", 9, 10), ("lte", 10, 11)])
def test_numeric_comparisons(op: str, hit: int, miss: int) -> None:
    det = f"sel:\n  n|{op}: 10\ncondition: sel"
    assert matches(det, {"n": hit})
    assert matches(det, {"n": str(hit)})
    assert not matches(det, {"n": miss})
    assert not matches(det, {"n": "ten"})


# --- keywords ------------------------------------------------------------------------------


def test_keywords_search_message() -> None:
    det = "keywords:\n  - 'segfault at'\n  - 'kernel panic'\ncondition: keywords"
    assert matches(det, {"message": "Oops: Kernel Panic - not syncing"})
    assert not matches(det, {"message": "all fine"})


def test_keywords_fall_back_to_log_original_without_message() -> None:
    det = "keywords:\n  - 'denied'\ncondition: keywords"
    assert matches(det, {"log": {"original": "access DENIED for x"}})
    assert not matches(det, {"log": {"original": "ok"}})
    assert not matches(det, {"message": "ok", "log": {"original": "denied"}})


def test_keywords_with_all_modifier() -> None:
    det = "keywords:\n  '|all':\n    - 'alpha'\n    - 'beta'\ncondition: keywords"
    assert matches(det, {"message": "beta then alpha"})
    assert not matches(det, {"message": "alpha only"})


# --- conditions ----------------------------------------------------------------------------


def test_and_or_not_and_parentheses() -> None:
    det = "a:\n  f: 1\nb:\n  g: 2\nc:\n  h: 3\ncondition: a and not (b or c)"
    assert matches(det, {"f": "1"})
    assert not matches(det, {"f": "1", "g": "2"})
    assert not matches(det, {"f": "1", "h": "3"})
    assert not matches(det, {"g": "5"})


def test_not_on_missing_field_is_true() -> None:
    det = "sel:\n  f: 1\nfilter:\n  g: x\ncondition: sel and not filter"
    assert matches(det, {"f": 1})
    assert not matches(det, {"f": 1, "g": "X"})


def test_one_of_and_all_of_pattern() -> None:
    det = "sel_a:\n  f: 1\nsel_b:\n  g: 2\nother:\n  h: 3\ncondition: 1 of sel_* and other"
    assert matches(det, {"g": 2, "h": 3})
    assert not matches(det, {"g": 2})
    det_all = "sel_a:\n  f: 1\nsel_b:\n  g: 2\ncondition: all of sel_*"
    assert matches(det_all, {"f": 1, "g": 2})
    assert not matches(det_all, {"f": 1})


def test_one_of_them_and_all_of_them() -> None:
    det = "a:\n  f: 1\nb:\n  g: 2\ncondition: 1 of them"
    assert matches(det, {"g": 2})
    assert not matches(det, {"x": 2})
    det_all = "a:\n  f: 1\nb:\n  g: 2\ncondition: all of them"
    assert matches(det_all, {"f": 1, "g": 2})
    assert not matches(det_all, {"g": 2})


def test_them_ignores_underscore_detections() -> None:
    det = "a:\n  f: 1\n_b:\n  g: 2\ncondition: all of them"
    assert matches(det, {"f": 1})


def test_several_conditions_are_ored() -> None:
    det = "a:\n  f: 1\nb:\n  g: 2\ncondition:\n  - a\n  - b"
    assert matches(det, {"g": 2})
    assert not matches(det, {"h": 2})


def test_neq_modifier() -> None:
    det = "sel:\n  a: x\n  b|neq: y\ncondition: sel"
    assert matches(det, {"a": "x", "b": "z"})
    assert not matches(det, {"a": "x", "b": "Y"})
