"""Refuse queries that would make OpenSearch scan everything, with a reason the analyst can act on.

Lucene query-string syntax is checked before it is sent: leading wildcards (`*admin`), regular
expressions that start with a wildcard or are long, too many wildcard terms. OpenSearch is also
told to refuse leading wildcards and to cap regex automata, as a second line.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from canhgac.core.errors import InvalidRequest

MAX_REGEX_CHARS = 100
MAX_WILDCARD_TERMS = 10
MAX_DETERMINIZED_STATES = 10_000
FIELD_NAME = re.compile(r"^[A-Za-z_@][A-Za-z0-9_@.\-]{0,127}$")

_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_REGEX = re.compile(r"(?:(?<=^)|(?<=[\s(:!+\-]))/((?:[^/\\]|\\.)*)/")
# A term that starts with * or ? followed by more characters (`*admin`, `?dmin`); `field:*` alone is fine.
_LEADING_WILDCARD = re.compile(r"(?:^|[\s(:!+\-\[{])[*?]+[^\s*?)\]}]")
_WILDCARD_TERM = re.compile(r"\S*[*?]\S*")


def check_lucene(query: str, max_chars: int) -> None:
    if len(query) > max_chars:
        raise InvalidRequest(f"query too long: at most {max_chars} characters")
    unquoted = _QUOTED.sub('""', query)
    for match in _REGEX.finditer(unquoted):
        pattern = match.group(1)
        if len(pattern) > MAX_REGEX_CHARS:
            raise InvalidRequest(f"regular expression too long: at most {MAX_REGEX_CHARS} characters")
        if re.match(r"^\.[*+?{]", pattern) or pattern.startswith("(.*") or pattern in ("", ".*"):
            raise InvalidRequest(
                "regular expression starts with a wildcard (.* …): it would scan every term; anchor it "
                "with a literal prefix"
            )
    without_regex = _REGEX.sub(" ", unquoted)
    if _LEADING_WILDCARD.search(without_regex):
        raise InvalidRequest(
            "leading wildcards (*abc, ?abc) are refused: they scan every term; put literal characters first "
            "or search a `.ci` keyword field with a prefix"
        )
    wildcard_terms = [t for t in _WILDCARD_TERM.findall(without_regex) if t.rstrip(")") not in ("*", "")]
    wildcard_terms = [t for t in wildcard_terms if not t.endswith(":*")]
    if len(wildcard_terms) > MAX_WILDCARD_TERMS:
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
