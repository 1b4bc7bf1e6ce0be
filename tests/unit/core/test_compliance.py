"""Compliance by level: the policy loader (the shipped file, and bad files refused with a clear
message), the classification of real normaliser output into log categories, the OpenSearch query
agreeing with the Python classification, and coverage of one system (missing since when)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from canhgac.api.compliance.service import coverage_of, system_query
from canhgac.core.compliance import (
    DEFAULT_POLICY_FILE,
    LogCategory,
    category_query,
    classify,
    load_policy,
)
from canhgac.core.config import Settings
from canhgac.core.errors import ConfigError

GOLDEN = Path(__file__).resolve().parents[1] / "normalize" / "golden"


def test_the_shipped_policy_loads_and_requires_more_with_each_level() -> None:
    policy = load_policy(DEFAULT_POLICY_FILE)
    required = [set(policy.required(level)) for level in range(1, 6)]
    assert all(lower <= higher for lower, higher in itertools.pairwise(required))
    assert required[0] == {LogCategory.AUTHENTICATION, LogCategory.ADMIN}
    assert required[4] == set(LogCategory)
    assert [policy.missing_after(level) for level in range(1, 6)] == [604800, 259200, 86400, 43200, 14400]
    assert Settings().compliance.policy_file is None  # None is the shipped file


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("levels: {1: {requires: [authentication]}}", "levels missing: [2, 3, 4, 5]"),
        (
            "levels: {1: {requires: [logins]}, 2: {}, 3: {}, 4: {}, 5: {}}",
            "levels.1.requires.0",
        ),
        ("levels: {1: {}, 2: {}, 3: {}, 4: {}, 5: {}, 6: {}}", "not security levels (1-5): [6]"),
        ("levels: {1: {requires: [web, web]}, 2: {}, 3: {}, 4: {}, 5: {}}", "a category is listed twice"),
        ("levels: {1: {missing_after_secs: 5}, 2: {}, 3: {}, 4: {}, 5: {}}", "levels.1.missing_after_secs"),
        ("levels: {1: {}, 2: {}, 3: {}, 4: {}, 5: {}}\nextra: 1", "extra"),
        ("- just a list", "expected a mapping"),
        ("levels: [1, 2", "cannot read"),
    ],
)
def test_a_bad_policy_file_is_refused_with_the_file_and_the_problem(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "levels.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_policy(path)
    assert str(path) in str(refused.value) and says in str(refused.value)
    if "requires.0" in says:  # an unknown category names the known ones
        assert "authentication, admin, network, web, system, database, malware" in str(refused.value)


def test_a_missing_policy_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_policy(tmp_path / "nope.yml")


def _golden(name: str) -> list[dict[str, Any]]:
    path = GOLDEN / name
    events = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    return [e for e in events if "parse_error" not in e]


@pytest.mark.parametrize(
    ("golden", "category"),
    [
        ("fortigate/expected.jsonl", LogCategory.NETWORK),
        ("pfsense/expected.jsonl", LogCategory.NETWORK),
        ("cisco-asa/expected.jsonl", LogCategory.NETWORK),
        ("nginx-access/expected.jsonl", LogCategory.WEB),
        ("apache-error/expected.jsonl", LogCategory.WEB),
        ("linux-auth/expected.jsonl", LogCategory.AUTHENTICATION),
        ("auditd/expected.jsonl", LogCategory.SYSTEM),
    ],
)
def test_real_normaliser_output_is_classified_by_its_kind(golden: str, category: LogCategory) -> None:
    events = _golden(golden)
    assert events and all(category in classify(e) for e in events)


def test_windows_and_application_events_fall_into_their_categories() -> None:
    windows = _golden("windows/winlogbeat.expected.jsonl")
    by_code: dict[str, set[LogCategory]] = {str(e["event"].get("code")): classify(e) for e in windows}
    assert LogCategory.AUTHENTICATION in by_code["4624"]  # logon
    assert LogCategory.ADMIN in by_code["4720"]  # an account created
    motcua = [classify(e) for e in _golden("motcua-audit/expected.jsonl")]
    assert {LogCategory.DATABASE} in motcua and {LogCategory.AUTHENTICATION} in motcua
    # Pipeline errors belong to no category: a source sending garbage does not cover anything.
    assert classify({"event": {"kind": "pipeline_error", "category": ["authentication"]}}) == set()
    # Dotted keys (as some stored documents hold them) classify too.
    assert classify({"event.category": "database"}) == {LogCategory.DATABASE}


def _matches(query: dict[str, Any], event: dict[str, Any]) -> bool:
    """A small evaluator of the query shapes category_query builds (bool, terms, term)."""
    from canhgac.core.compliance import _values

    if "bool" in query:
        q = query["bool"]
        ok = all(_matches(f, event) for f in q.get("filter", []))
        ok = ok and not any(_matches(f, event) for f in q.get("must_not", []))
        if q.get("should"):
            ok = ok and sum(_matches(s, event) for s in q["should"]) >= q.get("minimum_should_match", 1)
        return ok
    if "terms" in query:
        ((field, values),) = query["terms"].items()
        return bool(set(_values(event, field)) & {str(v).lower() for v in values})
    ((field, value),) = query["term"].items()
    return str(value).lower() in _values(event, field)


def test_the_opensearch_queries_classify_as_the_python_does() -> None:
    events = [e for path in GOLDEN.rglob("*expected.jsonl") for e in _golden(str(path.relative_to(GOLDEN)))]
    assert len(events) > 150
    for event in events:
        assert {c for c in LogCategory if _matches(category_query(c), event)} == classify(event), event


def test_coverage_of_one_system_says_what_is_missing_and_since_when(tmp_path: Path) -> None:
    policy = load_policy(DEFAULT_POLICY_FILE)
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    system = {"id": "cong-dvc", "agency": "so-tttt", "security_level": 3, "hosts": ["portal01", "10.0.5.10"]}
    last_seen = {
        "authentication": "2026-12-06T11:00:00.000Z",  # fresh
        "network": "2026-12-04T09:00:00.000Z",  # older than a day: missing since then
        "database": "2026-12-06T11:30:00.000Z",  # arrives, not required at level 3
    }
    rows = {r["category"]: r for r in coverage_of(system, policy, last_seen, "2026-12-01T00:00:00.000Z", now)}
    assert rows["authentication"]["status"] == "ok"
    assert (rows["network"]["status"], rows["network"]["missing_since"]) == ("missing", "2026-12-04T09:00:00.000Z")
    # never seen: missing since coverage began watching the system
    assert (rows["web"]["status"], rows["web"]["missing_since"]) == ("missing", "2026-12-01T00:00:00.000Z")
    assert (rows["database"]["required"], rows["database"]["status"]) == (False, "ok")
    assert rows["malware"]["status"] == "not_required"
    # A system watched for less than its level's allowance is not missing anything yet.
    just_added = coverage_of(system, policy, {}, (now - timedelta(hours=2)).isoformat(), now)
    assert all(r["status"] != "missing" for r in just_added)
    # Hosts by name (any case) or address, and the system's agency only.
    query = system_query(system)
    assert query["bool"]["filter"] == [{"term": {"canhgac.agency": "so-tttt"}}]
    assert {"terms": {"host.ip": ["10.0.5.10"]}} in query["bool"]["should"]
    assert system_query({"id": "empty", "agency": "x"}) == {"match_none": {}}
