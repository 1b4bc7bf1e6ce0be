"""Which fields made a rule fire (shown highlighted with its alert): the fields of the conditions
that hold, never those of a negated condition, of a branch that did not hold, or absent ones."""

from __future__ import annotations

from canhgac.rules.engine import Engine

from tests.unit.rules.support import event, load, rule

DETECTION = """
    sel_image:
        Image|endswith: '\\\\certutil.exe'
    sel_cli:
        - CommandLine|contains: urlcache
        - CommandLine|contains: decode
    other:
        ParentImage|endswith: '\\\\explorer.exe'
    admin:
        User: admin
    condition: sel_image and (sel_cli or other) and not admin
"""


def engine_for(detection: str) -> Engine:
    result = load(rule(detection))
    assert not result.rejected, result.rejected
    return Engine(result.rules)


def test_fields_of_the_conditions_that_hold() -> None:
    engine = engine_for(DETECTION)
    ev = event(
        {
            "Image": "C:\\Windows\\System32\\certutil.exe",
            "CommandLine": "certutil -urlcache -f http://x/a.exe",
            "ParentImage": "C:\\Windows\\cmd.exe",  # the `other` branch does not hold
            "User": "lan",  # under `not`: it holds by being different, it names nothing
        }
    )
    assert engine.match(ev)
    rule_id = engine.rules[0].meta.id
    assert engine.firing_fields(rule_id, ev) == ["Image", "CommandLine"]
    assert engine.firing_fields("no-such-rule", ev) == []


def test_keyword_rules_name_the_field_searched_and_nested_paths() -> None:
    engine = engine_for(
        """
        keywords:
            - 'Failed password for'
        sel:
            source.ip|cidr: 203.0.113.0/24
        condition: keywords and sel
        """
    )
    ev = event({"message": "Failed password for root", "log": {"original": "x"}, "source": {"ip": "203.0.113.9"}})
    assert engine.match(ev)
    assert engine.firing_fields(engine.rules[0].meta.id, ev) == ["message", "source.ip"]


def test_each_firing_field_names_the_condition_that_held_compactly() -> None:
    """Shown next to the highlighted field: the Sigma condition that held (the first value of a
    list that holds on its own), in the rule's own words, cut to a bounded length."""
    engine = engine_for(DETECTION)
    ev = event(
        {
            "Image": "C:\\Windows\\System32\\certutil.exe",
            "CommandLine": "certutil -decode a.b64 a.exe",
            "ParentImage": "C:\\Windows\\cmd.exe",
            "User": "lan",
        }
    )
    rule_id = engine.rules[0].meta.id
    assert engine.firing_conditions(rule_id, ev) == [
        {"field": "Image", "condition": 'Image|endswith: "\\certutil.exe"'},
        {"field": "CommandLine", "condition": 'CommandLine|contains: "decode"'},
    ]
    assert engine.firing_conditions("no-such-rule", ev) == []
    long = engine_for(
        """
        keywords:
            - 'Failed password for'
        sel:
            source.ip|cidr: 203.0.113.0/24
            event.code|gte: 4
            url.path|re: '^/adm[i]n'
            process.args|startswith: '%s'
        condition: keywords and sel
        """
        % ("x" * 400)
    )
    ev = event(
        {
            "message": "Failed password for root",
            "source": {"ip": "203.0.113.9"},
            "event": {"code": 5},
            "url": {"path": "/admin/x"},
            "process": {"args": "x" * 500},
        }
    )
    found = {c["field"]: c["condition"] for c in long.firing_conditions(long.rules[0].meta.id, ev)}
    assert found["message"] == 'keyword: "Failed password for"'
    assert found["source.ip"] == "source.ip|cidr: 203.0.113.0/24"
    assert found["event.code"] == "event.code|gte: 4"
    assert found["url.path"] == 'url.path|re: "^/adm[i]n"'
    assert found["process.args"].startswith('process.args|startswith: "xxx') and len(found["process.args"]) <= 160
