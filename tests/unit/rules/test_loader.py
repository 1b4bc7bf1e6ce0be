"""Loading: every rule loads or is rejected with a reason; one bad rule never stops the others."""

from __future__ import annotations

from pathlib import Path

from canhgac.rules.engine import Engine
from canhgac.rules.loader import load_rules

from .support import event, load, rule

GOOD = rule("sel:\n  a: x\ncondition: sel")


def _write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_folder_is_loaded_recursively_and_bad_rules_are_rejected_one_by_one(tmp_path: Path) -> None:
    _write(tmp_path, "a/good.yml", GOOD)
    _write(tmp_path, "a/b/bad_yaml.yml", "title: [unclosed\n")
    _write(tmp_path, "bad_modifier.yml", rule("sel:\n  a|nosuchmod: x\ncondition: sel"))
    _write(tmp_path, "placeholder.yml", rule("sel:\n  a|expand: '%nope%'\ncondition: sel"))
    _write(tmp_path, "unsupported.yml", rule("sel:\n  a|re: '(a)\\1'\ncondition: sel"))
    _write(tmp_path, "bad_regex.yml", rule("sel:\n  a|re: '(unclosed'\ncondition: sel"))
    _write(tmp_path, "notes.txt", "ignored")
    result = load_rules([tmp_path])
    assert len(result.rules) == 1
    reasons = sorted(r.reason for r in result.rejected)
    assert reasons == [
        "invalid YAML",
        "invalid regex",
        "unresolved placeholder",
        "unsupported modifier",
        "unsupported regex",
    ]
    assert result.tally()["loaded"] == 1


def test_single_file_and_metadata(tmp_path: Path) -> None:
    text = GOOD.replace(
        "status: test\n",
        "status: test\nlevel: high\nauthor: Someone\ntags:\n    - attack.t1059\n"
        "references:\n    - https://example.org\nfalsepositives:\n    - admins\n"
        "description: Why\nname: my_rule\n",
    )
    path = _write(tmp_path, "one.yml", text)
    meta = load_rules([path]).rules[0].meta
    assert (meta.id, meta.level, meta.author, meta.tags) == (
        "11111111-1111-4111-8111-111111111111",
        "high",
        "Someone",
        ("attack.t1059",),
    )
    assert meta.references == ("https://example.org",) and meta.falsepositives == ("admins",)
    assert meta.description == "Why" and meta.name == "my_rule" and meta.logsource == {"product": "test"}
    assert meta.path == str(path)


def test_correlation_rules_are_kept_aside_not_rejected() -> None:
    text = rule("sel:\n  a: x\ncondition: sel").replace("title: Test rule\n", "title: Base\nname: base_rule\n")
    text += """---
title: Many
id: 22222222-2222-4222-8222-222222222222
correlation:
    type: event_count
    rules:
        - base_rule
    group-by:
        - a
    timespan: 5m
    condition:
        gte: 3
"""
    result = load(text)
    assert len(result.rules) == 1 and not result.rejected
    assert len(result.correlation_rules) == 1


def test_missing_file_is_a_rejection(tmp_path: Path) -> None:
    result = load_rules([tmp_path / "absent.yml"])
    assert [r.reason for r in result.rejected] == ["unreadable file"]


def test_placeholders_resolve_from_configuration() -> None:
    text = rule("sel:\n  a|expand: '%admins%'\ncondition: sel")
    assert load(text).rejected
    result = load(text, {"admins": ["root", "admin"]})
    assert not result.rejected
    assert Engine(result.rules).match(event({"a": "ROOT"}))


def test_logsource_routing() -> None:
    result = load(rule("sel:\n  a: x\ncondition: sel", logsource="product: windows\n    category: process_creation"))
    engine = Engine(result.rules)
    fields = {"winlog": {"event_data": {"a": "x"}}}
    assert engine.match(event(fields, product="windows", category="process_creation", service="sysmon"))
    assert not engine.match(event(fields, product="windows", category="file_event", service="sysmon"))
    assert not engine.match(event(fields, product="linux", category="process_creation"))
    assert not engine.match({"winlog": {"event_data": {"a": "x"}}})


def test_registry_refinements_also_meet_registry_event_rules() -> None:
    result = load(
        rule(
            "sel:\n  TargetObject|contains: run\ncondition: sel",
            logsource="product: windows\n    category: registry_event",
        )
    )
    ev = event(
        {"winlog": {"event_data": {"TargetObject": "HKLM\\...\\Run"}}},
        product="windows",
        category="registry_set",
        service="sysmon",
    )
    assert Engine(result.rules).match(ev)


def test_field_mapping_webserver_and_linux() -> None:
    web = load(
        rule(
            "sel:\n  cs-uri-query|contains: 'union select'\n  sc-status: 200\ncondition: sel",
            logsource="category: webserver",
        )
    )
    ev = event(
        {"url": {"query": "id=1 UNION SELECT"}, "http": {"response": {"status_code": 200}}},
        product="nginx",
        category="webserver",
    )
    assert Engine(web.rules).match(ev)
    lin = load(
        rule(
            "sel:\n  Image|endswith: /nc\n  CommandLine|contains: ' -e '\ncondition: sel",
            logsource="product: linux\n    category: process_creation",
        )
    )
    ev = event(
        {"process": {"executable": "/usr/bin/nc", "command_line": "nc -e /bin/sh"}},
        product="linux",
        category="process_creation",
    )
    assert Engine(lin.rules).match(ev)
