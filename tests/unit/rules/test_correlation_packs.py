"""The province's correlation rules (rules/packs/correlation) against positive and negative streams.

Base rules are matched by a small stand-in evaluator (equality, wildcards, and/or/not, logsource),
enough for the corr_* base rules, so these tests do not depend on the single-event engine.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from canhgac.core.event import get_path, logsource_of
from canhgac.rules.correlation import CorrelationAlert, CorrelationEngine, resolve_field
from sigma.collection import SigmaCollection
from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionNOT, ConditionOR
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule
from sigma.types import SigmaNumber, SigmaString

PACKS = Path(__file__).resolve().parents[3] / "rules" / "packs"
T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)

SSH_THEN_SUCCESS = "SSH brute force followed by a successful login to the same account"
SSH_FROM_ADDRESS = "SSH brute force from one address"
WEB_SCAN = "One address requesting many missing portal paths"
WIN_NEW_ADMIN = "New Windows account made administrator and used to log on"
LINUX_NEW_ACCOUNT = "New Linux account used for an SSH login"


@dataclass(frozen=True)
class Meta:
    id: str
    name: str | None
    title: str


def _field(event: dict[str, Any], name: str) -> Any:
    return get_path(event, "winlog.event_id") if name == "EventID" else resolve_field(event, name)


def _equals(actual: Any, expected: Any) -> bool:
    if isinstance(actual, list):
        return any(_equals(a, expected) for a in actual)
    if actual is None:
        return False
    if isinstance(expected, SigmaNumber):
        return str(actual) == str(expected.number)
    if isinstance(expected, SigmaString):
        return fnmatch.fnmatchcase(str(actual).lower(), str(expected).lower())
    raise NotImplementedError(type(expected))


def _eval(node: Any, event: dict[str, Any]) -> bool:
    if isinstance(node, ConditionAND):
        return all(_eval(a, event) for a in node.args)
    if isinstance(node, ConditionOR):
        return any(_eval(a, event) for a in node.args)
    if isinstance(node, ConditionNOT):
        return not _eval(node.args[0], event)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _equals(_field(event, node.field), node.value)
    raise NotImplementedError(type(node))


def _matches(rule: SigmaRule, event: dict[str, Any]) -> bool:
    ls = logsource_of(event)
    for attr in ("product", "category", "service"):
        wanted = getattr(rule.logsource, attr)
        if wanted and ls.get(attr) != wanted:
            return False
    return any(_eval(c.parse(), event) for c in rule.detection.parsed_condition)


class Pipeline:
    """Stand-in detector: base rules on each event, then the correlation engine."""

    def __init__(self, *, file_by_file: bool = False) -> None:
        files = sorted((PACKS / "province").glob("corr_*.yml")) + sorted((PACKS / "correlation").glob("*.yml"))
        if file_by_file:
            # As a loader that parses each file alone sees them: references stay unresolved strings.
            rules = [r for f in files for r in SigmaCollection.from_yaml(f.read_text(), resolve_references=False).rules]
        else:
            collection = SigmaCollection.load_ruleset([str(f) for f in files])
            assert not collection.errors
            rules = collection.rules
        self.base = [r for r in rules if isinstance(r, SigmaRule)]
        self.engine = CorrelationEngine.from_sigma([r for r in rules if isinstance(r, SigmaCorrelationRule)])

    def run(self, stream: list[tuple[float, dict[str, Any]]]) -> list[CorrelationAlert]:
        alerts: list[CorrelationAlert] = []
        for secs, event in stream:
            matched = [Meta(str(r.id), r.name, r.title) for r in self.base if _matches(r, event)]
            alerts.extend(self.engine.observe(event, matched, T0 + timedelta(seconds=secs)))
        alerts.extend(self.engine.advance(T0 + timedelta(days=1)))
        return alerts


def fired(
    stream: list[tuple[float, dict[str, Any]]], *, file_by_file: bool = False
) -> list[tuple[str, dict[str, Any], tuple[str, ...]]]:
    """(title, group, event ids) of each alert's last emission, in first-emission order."""
    final: dict[str, CorrelationAlert] = {}
    for alert in Pipeline(file_by_file=file_by_file).run(stream):
        final[alert.id] = alert
    return [(a.title, dict(a.group), a.event_ids) for a in final.values()]


# --- SSH ----------------------------------------------------------------------------------------------


def ssh(eid: str, outcome: str, user: str, ip: str) -> dict[str, Any]:
    return {
        "event": {"id": eid, "category": ["authentication"], "outcome": outcome},
        "user": {"name": user},
        "source": {"ip": ip},
        "canhgac": {"logsource": {"product": "linux", "service": "sshd"}},
    }


def failures(
    n: int, user: str = "root", ip: str = "203.0.113.5", step: float = 10, t0: float = 0, prefix: str = "f"
) -> list[tuple[float, dict[str, Any]]]:
    return [(t0 + i * step, ssh(f"{prefix}{i}", "failure", user, ip)) for i in range(n)]


def test_ssh_burst_then_success_alerts_once_with_every_event() -> None:
    stream = [*failures(6), (120, ssh("ok", "success", "root", "203.0.113.5"))]
    assert fired(stream) == [
        (SSH_THEN_SUCCESS, {"user.name": "root"}, ("f0", "f1", "f2", "f3", "f4", "f5", "ok")),
    ]


@pytest.mark.parametrize("file_by_file", [False, True])
def test_ssh_burst_then_success_with_references_resolved_or_not(file_by_file: bool) -> None:
    stream = [*failures(5), (60, ssh("ok", "success", "root", "203.0.113.5"))]
    assert fired(stream, file_by_file=file_by_file) == [
        (SSH_THEN_SUCCESS, {"user.name": "root"}, ("f0", "f1", "f2", "f3", "f4", "ok")),
    ]


def test_windows_aliases_work_with_unresolved_references() -> None:
    stream = [(0, created()), (60, added_local()), (600, logon())]
    assert [t for t, _, _ in fired(stream, file_by_file=True)] == [WIN_NEW_ADMIN]


def test_ssh_success_from_another_address_still_counts_for_the_account() -> None:
    stream = [*failures(5), (60, ssh("ok", "success", "root", "198.51.100.7"))]
    assert [t for t, _, _ in fired(stream)] == [SSH_THEN_SUCCESS]


@pytest.mark.parametrize(
    "stream",
    [
        pytest.param([*failures(4), (60, ssh("ok", "success", "root", "203.0.113.5"))], id="only-4-failures"),
        pytest.param(
            [*failures(5, step=80), (400, ssh("ok", "success", "root", "203.0.113.5"))],
            id="failures-spread-over-more-than-5-min",
        ),
        pytest.param(
            [*failures(5), (40 + 600, ssh("ok", "success", "root", "203.0.113.5"))], id="success-10-min-after-the-burst"
        ),
        pytest.param([*failures(5), (60, ssh("ok", "success", "alice", "203.0.113.5"))], id="other-account"),
        pytest.param([(0, ssh("ok", "success", "root", "203.0.113.5")), *failures(5, t0=10)], id="success-first"),
        pytest.param(
            [
                *failures(2, ip="203.0.113.5"),
                *failures(3, ip="203.0.113.6", t0=30, prefix="g"),
                (60, ssh("ok", "success", "root", "203.0.113.5")),
            ],
            id="failures-from-two-addresses",
        ),
    ],
)
def test_ssh_negative_streams(stream: list[tuple[float, dict[str, Any]]]) -> None:
    assert fired(stream) == []


def test_ssh_many_failures_from_one_address_across_accounts() -> None:
    stream = [(i * 5, ssh(f"f{i}", "failure", f"user{i}", "203.0.113.9")) for i in range(20)]
    assert fired(stream) == [(SSH_FROM_ADDRESS, {"source.ip": "203.0.113.9"}, tuple(f"f{i}" for i in range(20)))]
    assert fired(stream[:19]) == []


def test_base_rules_used_only_by_correlations_do_not_alert_alone() -> None:
    pipeline = Pipeline()
    silenced = {r.name for r in pipeline.base if not pipeline.engine.emits_own_alerts(Meta(str(r.id), r.name, r.title))}
    assert silenced == {r.name for r in pipeline.base}


# --- web ----------------------------------------------------------------------------------------------


def web(eid: str, ip: str, path: str, status: int = 404) -> dict[str, Any]:
    return {
        "event": {"id": eid},
        "source": {"ip": ip},
        "url": {"path": path},
        "http": {"response": {"status_code": status}},
        "canhgac": {"logsource": {"category": "webserver"}},
    }


def test_web_many_distinct_missing_paths_from_one_address() -> None:
    stream = [(i * 2, web(f"w{i}", "192.0.2.44", f"/dvc/{i}.php")) for i in range(20)]
    stream.append((41, web("again", "192.0.2.44", "/dvc/0.php")))
    assert fired(stream) == [
        (WEB_SCAN, {"source.ip": "192.0.2.44"}, (*[f"w{i}" for i in range(20)], "again")),
    ]


@pytest.mark.parametrize(
    "stream",
    [
        pytest.param([(i, web(f"w{i}", "192.0.2.44", f"/p{i % 19}")) for i in range(40)], id="19-distinct"),
        pytest.param([(i * 4, web(f"w{i}", "192.0.2.44", f"/p{i}")) for i in range(20)], id="over-76-seconds"),
        pytest.param([(i, web(f"w{i}", f"192.0.2.{i}", "/p{i}")) for i in range(20)], id="20-addresses"),
    ],
)
def test_web_negative_streams(stream: list[tuple[float, dict[str, Any]]]) -> None:
    assert fired(stream) == []


def test_web_found_pages_do_not_count() -> None:
    pipeline = Pipeline()
    ok = web("ok", "192.0.2.44", "/index", status=200)
    assert not any(_matches(r, ok) for r in pipeline.base)


# --- Windows new admin account --------------------------------------------------------------------------

SID = "S-1-5-21-3623811015-3361044348-30300820-1105"


def win(eid: str, event_id: int, **data: str) -> dict[str, Any]:
    return {
        "event": {"id": eid, "code": str(event_id)},
        "winlog": {"event_id": event_id, "channel": "Security", "event_data": data},
        "canhgac": {"logsource": {"product": "windows", "service": "security"}},
    }


def created(sid: str = SID) -> dict[str, Any]:
    return win("created", 4720, TargetUserName="svc_bk2", TargetSid=sid, SubjectUserName="it01")


def added_local(sid: str = SID, group_sid: str = "S-1-5-32-544") -> dict[str, Any]:
    return win("added", 4732, TargetUserName="Administrators", TargetSid=group_sid, MemberSid=sid, MemberName="-")


def logon(sid: str = SID) -> dict[str, Any]:
    return win("logon", 4624, TargetUserName="svc_bk2", TargetUserSid=sid, LogonType="10")


def test_windows_created_added_to_admins_then_logon() -> None:
    stream = [(0, created()), (60, added_local()), (600, logon())]
    assert fired(stream) == [(WIN_NEW_ADMIN, {"account_sid": SID}, ("created", "added", "logon"))]


def test_windows_domain_admins_variant() -> None:
    domain_admins = win(
        "added",
        4728,
        TargetUserName="Domain Admins",
        TargetSid="S-1-5-21-3623811015-3361044348-30300820-512",
        MemberSid=SID,
    )
    assert [t for t, _, _ in fired([(0, created()), (5, domain_admins), (3000, logon())])] == [WIN_NEW_ADMIN]


@pytest.mark.parametrize(
    "stream",
    [
        pytest.param(
            [(0, created()), (60, added_local(group_sid="S-1-5-32-555")), (600, logon())], id="non-admin-group"
        ),
        pytest.param(
            [(0, created()), (60, added_local()), (600, logon(sid=SID[:-4] + "2001"))], id="other-account-logs-on"
        ),
        pytest.param([(0, created()), (60, added_local()), (3600, logon())], id="logon-after-1-hour"),
        pytest.param([(0, created()), (60, logon()), (120, added_local())], id="logon-before-admin"),
        pytest.param([(0, added_local()), (60, logon())], id="existing-account"),
    ],
)
def test_windows_negative_streams(stream: list[tuple[float, dict[str, Any]]]) -> None:
    assert fired(stream) == []


# --- Linux new account ---------------------------------------------------------------------------------


def useradd(user: str) -> dict[str, Any]:
    return {
        "event": {"id": f"useradd-{user}", "category": ["iam"], "type": ["user", "creation"]},
        "user": {"name": user},
        "canhgac": {"logsource": {"product": "linux"}},
    }


def test_linux_new_account_then_ssh_login() -> None:
    stream = [(0, useradd("sysbk")), (1800, ssh("ok", "success", "sysbk", "198.51.100.7"))]
    assert fired(stream) == [(LINUX_NEW_ACCOUNT, {"user.name": "sysbk"}, ("useradd-sysbk", "ok"))]


@pytest.mark.parametrize(
    "stream",
    [
        pytest.param([(0, useradd("sysbk")), (60, ssh("ok", "success", "alice", "198.51.100.7"))], id="other-user"),
        pytest.param([(0, useradd("sysbk")), (7200, ssh("ok", "success", "sysbk", "198.51.100.7"))], id="too-late"),
    ],
)
def test_linux_new_account_negative_streams(stream: list[tuple[float, dict[str, Any]]]) -> None:
    assert fired(stream) == []
