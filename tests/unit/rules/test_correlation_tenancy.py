"""Tenancy in correlations (issue 10, finding 1): the agency is part of every correlation group key,
so one agency's events never complete another agency's correlation; only a rule that says
`canhgac: {cross_agency: true}` spans agencies, and its alerts belong to the SOC."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest
import yaml
from canhgac.core.alert import SOC_AGENCY
from canhgac.core.errors import RuleError
from canhgac.pipeline.alerts import alert_from_correlation
from canhgac.rules.correlation import CorrelationAlert, CorrelationEngine
from canhgac.rules.correlation_spec import cross_agency_of
from canhgac.rules.loader import load_text
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule

from tests.unit.rules.test_correlation_packs import PACKS, SSH_THEN_SUCCESS, T0, Pipeline

AGENCY_A, AGENCY_B = "so-tttt", "so-yte"
HOST = "shared-web01"
CROSS_ID = "0b7e6a44-0000-4000-8000-0000000000dd"


def ssh(eid: str, outcome: str, agency: str, user: str = "root", ip: str = "203.0.113.5") -> dict[str, Any]:
    return {
        "event": {"id": eid, "category": ["authentication"], "outcome": outcome},
        "host": {"name": HOST},
        "user": {"name": user},
        "source": {"ip": ip},
        "canhgac": {
            "agency": agency,
            "source_id": f"src-{agency}",
            "logsource": {"product": "linux", "service": "sshd"},
        },
    }


def failures(n: int, agency: str, t0: float = 0) -> list[tuple[float, dict[str, Any]]]:
    return [(t0 + i * 10, ssh(f"{agency}-f{i}", "failure", agency)) for i in range(n)]


def success(secs: float, agency: str) -> tuple[float, dict[str, Any]]:
    return (secs, ssh(f"{agency}-ok", "success", agency))


def last_emissions(alerts: list[CorrelationAlert], title: str) -> list[CorrelationAlert]:
    final: dict[str, CorrelationAlert] = {}
    for alert in alerts:
        if alert.title == title:
            final[alert.id] = alert
    return list(final.values())


def test_failures_in_one_agency_then_success_in_another_do_not_correlate() -> None:
    stream = [*failures(6, AGENCY_A), success(120, AGENCY_B)]
    assert last_emissions(Pipeline().run(stream), SSH_THEN_SUCCESS) == []


def test_failures_and_success_in_one_agency_correlate_for_that_agency() -> None:
    stream = [*failures(6, AGENCY_A), success(120, AGENCY_A)]
    (alert,) = last_emissions(Pipeline().run(stream), SSH_THEN_SUCCESS)
    assert alert.agency == AGENCY_A and alert.agencies == (AGENCY_A,)
    assert alert.event_ids == (*(f"{AGENCY_A}-f{i}" for i in range(6)), f"{AGENCY_A}-ok")
    document = alert_from_correlation(alert.to_dict(), ssh(f"{AGENCY_A}-ok", "success", AGENCY_A))
    assert document["agency"] == AGENCY_A and document["agencies"] == [AGENCY_A]


def test_same_attack_in_two_agencies_gives_two_correlation_alerts() -> None:
    stream = sorted(
        [*failures(6, AGENCY_A), *failures(6, AGENCY_B, t0=1), success(120, AGENCY_A), success(121, AGENCY_B)],
        key=lambda item: item[0],
    )
    alerts = last_emissions(Pipeline().run(stream), SSH_THEN_SUCCESS)
    assert sorted((a.agency, a.event_ids[-1]) for a in alerts) == [(AGENCY_A, "so-tttt-ok"), (AGENCY_B, "so-yte-ok")]
    assert len({a.id for a in alerts}) == 2
    for alert in alerts:
        assert all(eid.startswith(f"{alert.agency}-") for eid in alert.event_ids)


# --- cross-agency rules ------------------------------------------------------------------------------


def cross_rule(extension: Any = None, *, cross: bool = True) -> str:
    """One address failing SSH logins in two or more agencies within ten minutes."""
    rule: dict[str, Any] = {
        "title": "One address brute-forcing SSH in several agencies",
        "id": CROSS_ID,
        "name": "test_ssh_failures_across_agencies",
        "author": "Canhgac SOC",
        "level": "high",
        "correlation": {
            "type": "value_count",
            "rules": ["canhgac_sshd_auth_failure"],
            "group-by": ["source.ip"],
            "timespan": "10m",
            "condition": {"field": "canhgac.agency", "gte": 2},
        },
    }
    if extension is not None:
        rule["canhgac"] = extension
    elif cross:
        rule["canhgac"] = {"cross_agency": True}
    return yaml.safe_dump(rule, sort_keys=False)


class CrossPipeline(Pipeline):
    def __init__(self, rule_text: str) -> None:
        files = [PACKS / "province" / "corr_linux_sshd_auth_failure.yml"]
        texts = [f.read_text() for f in files] + [rule_text]
        rules = SigmaCollection.from_yaml("\n---\n".join(texts)).rules
        from sigma.rule import SigmaRule

        self.base = [r for r in rules if isinstance(r, SigmaRule)]
        self.engine = CorrelationEngine.from_sigma([r for r in rules if isinstance(r, SigmaCorrelationRule)])


def test_cross_agency_rule_correlates_across_agencies_into_a_soc_alert() -> None:
    stream = [*failures(3, AGENCY_A), *failures(3, AGENCY_B, t0=100)]
    (alert,) = last_emissions(
        CrossPipeline(cross_rule()).run(stream), "One address brute-forcing SSH in several agencies"
    )
    assert alert.agency == SOC_AGENCY and alert.agencies == (AGENCY_A, AGENCY_B)
    document = alert_from_correlation(alert.to_dict(), stream[-1][1])
    assert document["agency"] == SOC_AGENCY and document["agencies"] == [AGENCY_A, AGENCY_B]
    assert document["correlation"]["cross_agency"] is True
    # Only what the agencies share (the group) is put in the alert's searchable fields.
    assert document["source"]["ip"] == "203.0.113.5"
    assert document["host"]["name"] is None and document["user"]["name"] is None


def test_without_the_extension_the_same_rule_stays_within_each_agency() -> None:
    stream = [*failures(3, AGENCY_A), *failures(3, AGENCY_B, t0=100)]
    title = "One address brute-forcing SSH in several agencies"
    assert last_emissions(CrossPipeline(cross_rule(cross=False)).run(stream), title) == []


@pytest.mark.parametrize(
    "extension",
    [
        pytest.param({"cross_agency": "yes"}, id="not-a-boolean"),
        pytest.param({"cross_agencies": True}, id="unknown-field"),
        pytest.param(["cross_agency"], id="not-a-mapping"),
    ],
)
def test_cross_agency_extension_is_validated(extension: Any) -> None:
    (rule,) = SigmaCollection.from_yaml(cross_rule(extension), resolve_references=False).rules
    with pytest.raises(RuleError) as caught:
        cross_agency_of(rule)
    assert caught.value.reason == "invalid_extension"
    result = load_text(cross_rule(extension), "upload/test.yml")
    assert result.correlation_rules == [] and [r.reason for r in result.rejected] == ["invalid_extension"]


def test_an_agency_rule_may_not_build_on_a_cross_agency_rule() -> None:
    outer = yaml.safe_dump(
        {
            "title": "outer",
            "id": "0b7e6a44-0000-4000-8000-0000000000ee",
            "correlation": {
                "type": "event_count",
                "rules": ["test_ssh_failures_across_agencies"],
                "group-by": ["source.ip"],
                "timespan": "1h",
                "condition": {"gte": 1},
            },
        }
    )
    with pytest.raises(RuleError) as caught:
        CrossPipeline(cross_rule() + "\n---\n" + outer)
    assert caught.value.reason == "unsupported_nesting"


def test_checkpoint_keeps_agencies_apart() -> None:
    first = Pipeline()
    for secs, event in failures(6, AGENCY_A):
        first.engine.observe(event, [m for m in _matched(first, event)], T0 + timedelta(seconds=secs))
    restored = Pipeline()
    restored.engine.restore(first.engine.checkpoint())
    other = success(120, AGENCY_B)[1]
    assert restored.engine.observe(other, _matched(restored, other), T0 + timedelta(seconds=120)) == []
    own = success(121, AGENCY_A)[1]
    alerts = restored.engine.observe(own, _matched(restored, own), T0 + timedelta(seconds=121))
    assert [(a.title, a.agency) for a in alerts if a.title == SSH_THEN_SUCCESS] == [(SSH_THEN_SUCCESS, AGENCY_A)]


def _matched(pipeline: Pipeline, event: dict[str, Any]) -> list[Any]:
    from tests.unit.rules.test_correlation_packs import Meta, _matches

    return [Meta(str(r.id), r.name, r.title) for r in pipeline.base if _matches(r, event)]


def test_a_checkpoint_from_before_tenancy_starts_every_rule_empty() -> None:
    first = Pipeline()
    for secs, event in failures(6, AGENCY_A):
        first.engine.observe(event, _matched(first, event), T0 + timedelta(seconds=secs))
    old = orjson.loads(first.engine.checkpoint())
    old["version"] = 1  # its group keys knew no agency
    restored = Pipeline()
    restored.engine.restore(orjson.dumps(old))
    assert restored.engine.stats().restore_discarded_rules == len(old["rules"])
    own = success(121, AGENCY_A)[1]
    assert restored.engine.observe(own, _matched(restored, own), T0 + timedelta(seconds=121)) == []
