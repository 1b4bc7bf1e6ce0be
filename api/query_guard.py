"""Refuse queries that would make OpenSearch scan everything, with a reason the analyst can act on.

Lucene query-string syntax is read the way Lucene's classic parser tokenises it (quoted phrases,
`\\` escapes, `/regex/` terms, which may start right after any other token, `[a TO b]` ranges)
and checked before it is sent:
- a regular expression must start with a literal character that every match needs, so the terms
  dictionary is entered at a prefix: `/.*admin/`, `/\\w*x/`, `/(.)*x/`, `/[ab]c/`, `/a*b/` and
  `/x|.*y/` are refused; at most MAX_REGEX_TERMS of them, each at most MAX_REGEX_CHARS long;
- a wildcard term must not start with `*` or `?` (`*admin`); at most MAX_WILDCARD_TERMS of them.
OpenSearch is also told to refuse leading wildcards and to cap regex automata, as a second line.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from canhgac.core.errors import InvalidRequest

MAX_REGEX_CHARS = 100
MAX_REGEX_TERMS = 3
MAX_WILDCARD_TERMS = 10
MAX_DETERMINIZED_STATES = 10_000
FIELD_NAME = re.compile(r"^[A-Za-z_@][A-Za-z0-9_@.\-]{0,127}$")

# Characters that end a term in Lucene's classic query parser (besides whitespace).
_TERM_END = set('+-!():^[]"{}~/')
# Lucene regular-expression operators (RegExp.ALL): anything else is a literal character.
_REGEX_META = set('.?+*|{}[]()"#@&<>~')
_REPEATS = set("*?{")


def _regex_has_literal_prefix(pattern: str) -> bool:
    """Every top-level alternative starts with a literal character that is not made optional."""
    for branch in _top_level_branches(pattern):
        if not branch:
            return False
        if branch[0] == "\\":
            if len(branch) < 2:
                return False
            following = branch[2:3]
        elif branch[0] in _REGEX_META:
            return False
        else:
            following = branch[1:2]
        if following and following in _REPEATS:  # `a*`, `a?`, `a{0,2}`: the character may be absent
            return False
    return True


def _top_level_branches(pattern: str) -> list[str]:
    branches, depth, current, i = [], 0, [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            current.append(pattern[i : i + 2])
            i += 2
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth = max(depth - 1, 0)
        elif c == "|" and depth == 0:
            branches.append("".join(current))
            current = []
            i += 1
            continue
        current.append(c)
        i += 1
    branches.append("".join(current))
    return branches


def _scan(query: str) -> tuple[list[str], list[str]]:
    """(regular expressions, wildcard terms) of a Lucene query string, as its parser reads them."""
    regexes: list[str] = []
    wildcards: list[str] = []
    term: list[str] = []

    def end_term() -> None:
        if term:
            text = "".join(term)
            if "*" in text or "?" in text:
                wildcards.append(text)
            term.clear()

    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c == "\\":
            term.append(query[i : i + 2].replace("*", "").replace("?", ""))  # escaped: literal
            i += 2
            continue
        if c == '"':
            end_term()
            i += 1
            while i < n and query[i] != '"':
                i += 2 if query[i] == "\\" else 1
            i += 1
            continue
        if c == "/":
            end_term()
            j = i + 1
            while j < n and query[j] != "/":
                j += 2 if query[j] == "\\" else 1
            if j >= n:
                raise InvalidRequest("unterminated regular expression (a `/` without its closing `/`)")
            regexes.append(query[i + 1 : j])
            i = j + 1
            continue
        if c in "[{":  # a range: its bounds are not terms (`[* TO 5]` is fine)
            end_term()
            j = i + 1
            while j < n and query[j] not in "]}":
                j += 2 if query[j] == "\\" else 1
            i = j + 1 if j < n else n
            continue
        if c.isspace() or c in _TERM_END or c == ":":
            end_term()
            i += 1
            continue
        term.append(c)
        i += 1
    end_term()
    return regexes, wildcards


def check_lucene(query: str, max_chars: int) -> None:
    if len(query) > max_chars:
        raise InvalidRequest(f"query too long: at most {max_chars} characters")
    regexes, wildcards = _scan(query)
    if len(regexes) > MAX_REGEX_TERMS:
        raise InvalidRequest(f"too many regular expressions: at most {MAX_REGEX_TERMS}")
    for pattern in regexes:
        if len(pattern) > MAX_REGEX_CHARS:
            raise InvalidRequest(f"regular expression too long: at most {MAX_REGEX_CHARS} characters")
        if not _regex_has_literal_prefix(pattern):
            raise InvalidRequest(
                f"regular expression /{pattern}/ does not start with a literal character (.*, \\w, (…), […], "
                "x* …): it would scan every term; start it with the literal text every match has"
            )
    wildcards = [t for t in wildcards if t != "*"]  # `field:*` (exists) is cheap
    if any(t[0] in "*?" for t in wildcards):
        raise InvalidRequest(
            "leading wildcards (*abc, ?abc) are refused: they scan every term; put literal characters first "
            "or search a `.ci` keyword field with a prefix"
        )
    if len(wildcards) > MAX_WILDCARD_TERMS:
        raise InvalidRequest(f"too many wildcard terms: at most {MAX_WILDCARD_TERMS}")


def lucene(query: str, max_chars: int, default_field: str) -> dict[str, Any]:
    text = query.strip() or "*"
    if text == "*":
        return {"match_all": {}}
    check_lucene(text, max_chars)
    return {
        "query_string": {
            "query": text,
            "default_field": default_field,
            "allow_leading_wildcard": False,
            "analyze_wildcard": True,
            "max_determinized_states": MAX_DETERMINIZED_STATES,
        }
    }


def check_field(name: str) -> str:
    if not FIELD_NAME.match(name):
        raise InvalidRequest("field name may hold letters, digits, _ @ . - only")
    return name


_NICE_INTERVALS_SECS = (
    1,
    5,
    10,
    30,
    60,
    300,
    600,
    1800,
    3600,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    86400,
    7 * 86400,
)


def histogram_interval(start: datetime, end: datetime, max_buckets: int, interval_secs: int | None) -> int:
    """The bucket width: the caller's, when it keeps buckets under the cap, or a round one that does."""
    span = max((end - start).total_seconds(), 1.0)
    if interval_secs is not None:
        if span / interval_secs > max_buckets:
            raise InvalidRequest(f"too many buckets: {int(span // interval_secs)} > {max_buckets}; widen the interval")
        return interval_secs
    target = span / min(max_buckets, 60)
    for secs in _NICE_INTERVALS_SECS:
        if secs >= target:
            return secs
    return int(max(target, timedelta(days=7).total_seconds()))
