"""Issue 12: a Sigma rule written with the taxonomy's field names of a generic log source (firewall
`src_ip`/`dst_port`/`action`, webserver `cs-uri-query`/`c-useragent`, proxy, dns, antivirus, Linux
authentication) fires on the ECS event our parsers make, and not on its near miss. The converted
query finds the same stored event (tests/integration/test_generic_logsources_query.py)."""

from __future__ import annotations

import pytest
from canhgac.rules.engine import Engine
from canhgac.rules.fieldmap import (
    ANTIVIRUS_FIELDS,
    DNS_FIELDS,
    FIREWALL_FIELDS,
    LINUX_AUTH_FIELDS,
    PROXY_FIELDS,
    WEBSERVER_FIELDS,
)
from canhgac.rules.loader import load_text

from tests.unit.rules.generic_logsources import CASES, Case, make_event


def engine_for(case: Case) -> Engine:
    result = load_text(case.rule, f"{case.name}.yml")
    assert not result.rejected, result.rejected
    assert [r.meta.id for r in result.rules] == [case.rule_id]
    return Engine(result.rules)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_taxonomy_rule_fires_on_our_event(case: Case) -> None:
    engine = engine_for(case)
    hit = make_event(case, "hit")
    assert [m.id for m in engine.match(hit)] == [case.rule_id], hit
    assert [m.id for m in engine.match_all_applicable(hit)] == [case.rule_id]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_taxonomy_rule_ignores_the_near_miss(case: Case) -> None:
    engine = engine_for(case)
    miss = make_event(case, "miss")
    assert engine.match(miss) == [] and engine.match_all_applicable(miss) == []


@pytest.mark.parametrize(
    "mapping",
    [ANTIVIRUS_FIELDS, FIREWALL_FIELDS, WEBSERVER_FIELDS, PROXY_FIELDS, DNS_FIELDS, LINUX_AUTH_FIELDS],
)
def test_one_target_field_per_sigma_field(mapping: dict[str, str | list[str]]) -> None:
    # Issue 11 reworks aliases that read two event fields; the generic log sources add none.
    assert all(isinstance(target, str) for target in mapping.values())
