"""Rule exceptions: each operator's positive and negative case, all-conditions semantics, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from canhgac.rules.exceptions import Condition, ExceptionSet, RuleException

EVENT = {
    "host": {"name": "WEB01.tinh.gov.vn"},
    "user": {"name": "svc_backup"},
    "source": {"ip": "10.20.30.40"},
    "process": {"args": ["/usr/bin/rsync", "-a"]},
    "event": {"code": 4625},
    "winlog.event_data.TargetUserName": "Admin$",
}
NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("field", "op", "value", "expected"),
    [
        ("host.name", "equals", "web01.tinh.gov.vn", True),  # case does not matter
        ("host.name", "equals", "web01", False),
        ("host.name", "contains", "TINH.gov", True),
        ("host.name", "contains", "hanoi", False),
        ("user.name", "startswith", "svc_", True),
        ("user.name", "startswith", "backup", False),
        ("user.name", "endswith", "_BACKUP", True),
        ("user.name", "endswith", "svc", False),
        ("source.ip", "cidr", "10.20.0.0/16", True),
        ("source.ip", "cidr", "10.21.0.0/16", False),
        ("source.ip", "cidr", "::ffff:10.20.30.40/128", False),  # v4 address vs v6 network: no
        ("host.name", "cidr", "10.0.0.0/8", False),  # not an address
        ("user.name", "in", ["root", "SVC_BACKUP"], True),
        ("user.name", "in", ["root", "admin"], False),
        ("process.args", "equals", "-a", True),  # a list holds when one item does
        ("process.args", "equals", "-z", False),
        ("event.code", "equals", "4625", True),  # numbers compare as text
        ("event.code", "in", ["4624"], False),
        ("winlog.event_data.TargetUserName", "endswith", "$", True),  # flat dotted key
        ("missing.field", "equals", "x", False),
        ("host", "equals", "web01", False),  # an object is never a value
    ],
)
def test_each_operator(field: str, op: str, value: object, expected: bool) -> None:
    assert Condition.parse({"field": field, "op": op, "value": value}).holds(EVENT) is expected


def test_ipv4_mapped_sender_matches_v4_network() -> None:
    cond = Condition.parse({"field": "source.ip", "op": "cidr", "value": "10.0.0.0/8"})
    assert cond.holds({"source": {"ip": "::ffff:10.1.2.3"}})


@pytest.mark.parametrize(
    "raw",
    [
        {"field": "", "op": "equals", "value": "x"},
        {"field": "a", "op": "regex", "value": "x"},
        {"field": "a", "op": "equals", "value": ""},
        {"field": "a", "op": "equals", "value": ["x"]},
        {"field": "a", "op": "in", "value": "x"},
        {"field": "a", "op": "in", "value": []},
        {"field": "a", "op": "cidr", "value": "10.0.0.300/8"},
    ],
)
def test_bad_conditions_are_refused(raw: dict) -> None:
    with pytest.raises(ValueError):
        Condition.parse(raw)


def _exception(expires_at: object = None, **extra: object) -> RuleException:
    return RuleException.parse(
        {
            "id": "ex1",
            "rule_id": "r1",
            "conditions": [
                {"field": "user.name", "op": "equals", "value": "svc_backup"},
                {"field": "source.ip", "op": "cidr", "value": "10.20.0.0/16"},
            ],
            "expires_at": expires_at,
            **extra,
        }
    )


def test_every_condition_must_hold() -> None:
    exc = _exception()
    assert exc.matches(EVENT)
    assert not exc.matches({**EVENT, "source": {"ip": "192.0.2.1"}})
    assert not exc.matches({**EVENT, "user": {"name": "root"}})


def test_expiry_stops_applying() -> None:
    later = (NOW + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    earlier = (NOW - timedelta(seconds=1)).isoformat()
    assert _exception(later).active(NOW) and _exception(None).active(NOW)
    assert not _exception(earlier).active(NOW)
    assert not _exception("2026-11-26T08:00:00").active(NOW)  # naive times are UTC; expiry is exclusive
    with pytest.raises(ValueError):
        _exception("tomorrow")


def test_set_suppresses_only_its_rule_and_only_while_active() -> None:
    active = _exception()
    expired = RuleException.parse(
        {
            "id": "ex2",
            "rule_id": "r2",
            "expires_at": "2020-01-01T00:00:00Z",
            "conditions": [{"field": "host.name", "op": "contains", "value": "web"}],
        }
    )
    found = ExceptionSet([active, expired])
    assert len(found) == 2
    assert found.suppressing("r1", EVENT, NOW) is active
    assert found.suppressing("r2", EVENT, NOW) is None  # expired
    assert found.suppressing("r3", EVENT, NOW) is None  # another rule
    assert found.suppressing("r1", {"user": {"name": "svc_backup"}}, NOW) is None


def test_stored_documents_without_conditions_or_rule_are_refused() -> None:
    with pytest.raises(ValueError):
        RuleException.parse({"rule_id": "r1", "conditions": []})
    with pytest.raises(ValueError):
        RuleException.parse({"conditions": [{"field": "a", "op": "equals", "value": "b"}]})


def test_correlation_exception_reads_the_group_then_the_event() -> None:
    now = datetime.now(UTC)
    exc = RuleException.parse(
        {
            "id": "x",
            "rule_id": "corr",
            "conditions": [
                {"field": "source.ip", "op": "cidr", "value": "10.0.0.0/8"},
                {"field": "host.name", "op": "equals", "value": "jump01"},
            ],
        }
    )
    excs = ExceptionSet([exc])
    event = {"host": {"name": "JUMP01"}, "source": {"ip": "192.0.2.1"}}
    # source.ip is the group's (the whole window shares it), host.name the event's
    assert excs.suppressing_correlation("corr", {"source.ip": "10.1.2.3"}, event, now) is exc
    assert excs.suppressing_correlation("corr", {"source.ip": "192.0.2.1"}, event, now) is None
    assert excs.suppressing_correlation("corr", {"source.ip": "10.1.2.3"}, {}, now) is None
    assert excs.suppressing_correlation("other", {"source.ip": "10.1.2.3"}, event, now) is None
