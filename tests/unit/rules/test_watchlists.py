"""Live watch/allow lists: a rule's `%list:name%` and an exception's `in_list` read the list in
force per event, so replacing the lists changes matching without recompiling the rule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from canhgac.core.watchlists import LISTS, WatchList, normalise_value
from canhgac.rules.engine import Engine
from canhgac.rules.exceptions import ExceptionSet, RuleException
from canhgac.rules.loader import load_rules
from canhgac.rules.rule_cache import RuleCache

from tests.unit.rules.support import event, load, rule


@pytest.fixture(autouse=True)
def no_lists() -> Iterator[None]:
    LISTS.replace([])
    yield
    LISTS.replace([])


def test_a_rule_follows_its_list_without_recompiling() -> None:
    result = load(rule("sel:\n  source.ip|expand: '%list:scanners%'\n  action: x\ncondition: sel"))
    assert not result.rejected, result.rejected
    engine = Engine(result.rules)
    ev = event({"source": {"ip": "10.1.2.3"}, "action": "x"})
    assert not engine.match(ev)  # the list does not exist yet: nothing is in it
    LISTS.replace([WatchList(name="scanners", type="ip", values=("10.1.0.0/16",))])
    assert engine.match(ev) and engine.match_all_applicable(ev)
    assert not engine.match(event({"source": {"ip": "10.2.0.1"}, "action": "x"}))
    LISTS.replace([WatchList(name="scanners", type="ip", values=("192.0.2.1",))])
    assert not engine.match(ev)


def test_string_lists_ignore_case_and_mix_with_other_values() -> None:
    det = "sel:\n  user.name|expand:\n    - '%list:admins%'\n    - root\ncondition: sel"
    result = load(rule(det))
    assert not result.rejected, result.rejected
    engine = Engine(result.rules)
    LISTS.replace([WatchList(name="admins", type="string", values=("Nguyen.Van.A",))])
    assert engine.match(event({"user": {"name": "nguyen.van.a"}}))
    assert engine.match(event({"user": {"name": "root"}}))
    assert not engine.match(event({"user": {"name": "guest"}}))


def test_a_list_placeholder_inside_a_longer_value_is_refused() -> None:
    result = load(rule("sel:\n  url|expand: '*%list:bad%*'\ncondition: sel"))
    assert result.rejected and "whole value" in result.rejected[0].message


def test_an_exception_with_an_allow_list_suppresses() -> None:
    exceptions = ExceptionSet(
        [
            RuleException.parse(
                {
                    "id": "e1",
                    "rule_id": "r1",
                    "conditions": [{"field": "user.name", "op": "in_list", "value": "service-accounts"}],
                }
            )
        ]
    )
    now = datetime.now(UTC)
    ev = {"user": {"name": "SVC-Backup"}}
    assert exceptions.suppressing("r1", ev, now) is None
    LISTS.replace([WatchList(name="service-accounts", type="string", values=("svc-backup",))])
    assert exceptions.suppressing("r1", ev, now) is not None


def test_values_are_checked_and_normalised() -> None:
    assert normalise_value("ip", "10.0.0.5/32") == "10.0.0.5"
    assert normalise_value("ip", "10.0.0.5/8") == "10.0.0.0/8"
    with pytest.raises(ValueError):
        normalise_value("ip", "not-an-ip")


def test_a_cached_rule_still_reads_its_list(tmp_path: Path) -> None:
    """A restart reads the rule from the compiled-rule cache: its list leaf is data, realised again."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "watch.yml").write_text(rule("sel:\n  source.ip|expand: '%list:scanners%'\ncondition: sel"))
    load_rules([rules], cache=RuleCache(tmp_path / "cache"))  # the first start writes the cache
    cache = RuleCache(tmp_path / "cache")
    restarted = load_rules([rules], cache=cache)
    assert cache.hits == 1 and not restarted.rejected and len(restarted.rules) == 1
    engine = Engine(restarted.rules)
    LISTS.replace([WatchList(name="scanners", type="ip", values=("10.9.0.0/16",))])
    assert engine.match(event({"source": {"ip": "10.9.1.1"}}))
    assert not engine.match(event({"source": {"ip": "10.8.1.1"}}))
