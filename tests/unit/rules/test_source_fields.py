"""Aliased fields read the name the event's source uses: Sysmon 1 `Image`, Security 4688 `NewProcessName`.

One class of rule per test (docs/detection.md, "Fields named per source"): null, not-null (exists),
negation, plain values on both sources, and a rule that pins one service. Each is checked on the
pre-filtered path and on the plain evaluator, which must agree.
"""

from __future__ import annotations

from typing import Any

import pytest
from canhgac.rules.convert import _queries
from canhgac.rules.engine import Engine
from sigma.collection import SigmaCollection

from tests.unit.rules.support import load, rule

PROCESS_CREATION = "product: windows\n    category: process_creation"


def sysmon(**data: Any) -> dict[str, Any]:
    return {
        "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 1, "event_data": data},
        "canhgac": {"logsource": {"product": "windows", "category": "process_creation", "service": "sysmon"}},
    }


def security(**data: Any) -> dict[str, Any]:
    return {
        "winlog": {"channel": "Security", "event_id": 4688, "event_data": data},
        "canhgac": {"logsource": {"product": "windows", "category": "process_creation", "service": "security"}},
    }


def engine(detection: str, logsource: str = PROCESS_CREATION) -> Engine:
    result = load(rule(detection, logsource))
    assert not result.rejected, result.rejected
    return Engine(result.rules)


def hit(eng: Engine, event: dict[str, Any]) -> bool:
    fast = bool(eng.match(event))
    assert fast == bool(eng.match_all_applicable(event))
    return fast


# The class the issue found: `ParentImage: null` was "either name missing", true on every event.
NULL_PARENT = """
    selection:
        CommandLine|contains: 'evil'
    filter:
        ParentImage: null
    condition: selection and not filter
"""


def test_null_is_null_in_the_events_own_name() -> None:
    eng = engine("sel:\n    ParentImage: null\ncondition: sel")
    assert not hit(eng, sysmon(ParentImage="C:\\p.exe"))
    assert not hit(eng, security(ParentProcessName="C:\\p.exe"))
    assert hit(eng, sysmon(CommandLine="x"))
    assert hit(eng, security(CommandLine="x"))
    # the other source's name does not stand in: a Security event with only `ParentImage` has no parent
    assert hit(eng, security(ParentImage="C:\\p.exe"))


def test_not_null_filter_keeps_the_rule_alive_on_both_sources() -> None:
    eng = engine(NULL_PARENT)
    assert hit(eng, sysmon(CommandLine="evil", ParentImage="C:\\p.exe"))
    assert hit(eng, security(CommandLine="evil", ParentProcessName="C:\\p.exe"))
    assert not hit(eng, sysmon(CommandLine="evil"))
    assert not hit(eng, security(CommandLine="evil"))


def test_exists_reads_the_sources_name() -> None:
    eng = engine("sel:\n    Image|exists: true\ncondition: sel")
    assert hit(eng, sysmon(Image="C:\\a.exe"))
    assert hit(eng, security(NewProcessName="C:\\a.exe"))
    assert not hit(eng, security(Image="C:\\a.exe"))
    assert not hit(eng, sysmon(NewProcessName="C:\\a.exe"))


def test_negation_is_on_the_one_name() -> None:
    eng = engine(
        """
        sel:
            CommandLine|contains: 'run'
        filter:
            Image|endswith: '\\good.exe'
        condition: sel and not filter
        """
    )
    assert not hit(eng, sysmon(CommandLine="run", Image="C:\\good.exe"))
    assert not hit(eng, security(CommandLine="run", NewProcessName="C:\\good.exe"))
    assert hit(eng, sysmon(CommandLine="run", Image="C:\\bad.exe"))
    assert hit(eng, security(CommandLine="run", NewProcessName="C:\\bad.exe"))
    # a Security event's `Image` (not its name for the image) does not make the filter hold
    assert hit(eng, security(CommandLine="run", Image="C:\\good.exe", NewProcessName="C:\\bad.exe"))


@pytest.mark.parametrize(
    "detection",
    [
        "sel:\n    Image|endswith: '\\certutil.exe'\ncondition: sel",
        "sel:\n    Image|endswith:\n        - '\\certutil.exe'\n        - '\\bitsadmin.exe'\ncondition: sel",
        "sel:\n    Image|re: '(?i)\\\\certutil\\.exe$'\ncondition: sel",
        "sel:\n    ParentImage|endswith: '\\cmd.exe'\n    Image|contains: 'certutil'\ncondition: sel",
    ],
)
def test_values_match_on_both_sources(detection: str) -> None:
    eng = engine(detection)
    assert hit(eng, sysmon(Image="C:\\W\\certutil.exe", ParentImage="C:\\W\\cmd.exe"))
    assert hit(eng, security(NewProcessName="C:\\W\\certutil.exe", ParentProcessName="C:\\W\\cmd.exe"))
    assert not hit(eng, security(Image="C:\\W\\certutil.exe", ParentImage="C:\\W\\cmd.exe"))
    assert not hit(eng, sysmon(NewProcessName="C:\\W\\certutil.exe", ParentProcessName="C:\\W\\cmd.exe"))


def test_rule_pinned_to_security_reads_security_names() -> None:
    eng = engine("sel:\n    Image|endswith: '\\a.exe'\ncondition: sel", PROCESS_CREATION + "\n    service: security")
    assert hit(eng, security(NewProcessName="C:\\a.exe"))
    assert not hit(eng, sysmon(Image="C:\\a.exe"))  # routed away: the rule names its service


def test_other_categories_are_not_aliased() -> None:
    eng = engine("sel:\n    Image: null\ncondition: sel", "product: windows\n    category: image_load")
    event = sysmon(Image="C:\\a.exe")
    event["canhgac"]["logsource"]["category"] = "image_load"
    assert not hit(eng, event)


def test_query_has_one_branch_per_source_name() -> None:
    doc = rule("sel:\n    ParentImage: null\ncondition: sel", PROCESS_CREATION)
    (parsed,) = SigmaCollection.from_yaml(doc).rules
    (query,) = _queries(parsed, None)  # type: ignore[arg-type]
    assert 'NOT canhgac.logsource.service.ci:("security")' in query
    assert 'canhgac.logsource.service.ci:"security" AND' in query
    assert "ParentProcessName" in query
    sysmon_branch, security_branch = query.split(") OR (", 1)
    assert "ParentProcessName" not in sysmon_branch and "ParentImage" in sysmon_branch
    assert "ParentImage" not in security_branch
