"""Watch lists expanded into converted queries (rules/convert_lists.py): by the field's store type,
literally, nothing for a missing list, and the one refusal; without lists, the rule is rejected."""

from __future__ import annotations

from pathlib import Path

from canhgac.core.watchlists import WatchList
from canhgac.rules.convert import convert_rules
from canhgac.rules.loader import Rejection

RULE = """title: Watched
id: 0d6c5b4a-3f21-4c6b-9a8e-7d6c5b4a3f21
logsource: {product: linux, service: sshd}
detection:
  sel:
    source.ip|expand: '%list:watched%'
  allowed:
    user.name|expand: '%list:accounts%'
  condition: sel and not allowed
"""
LISTS = {
    "watched": WatchList(name="watched", type="ip", values=("203.0.113.7", "10.0.9.0/24", "2001:db8::1")),
    "accounts": WatchList(name="accounts", type="string", values=("Backup", "svc*x", "10.0.0.1")),
}


def convert(tmp_path: Path, text: str, lists: dict[str, WatchList] | None) -> tuple[list[str], list[Rejection]]:
    path = tmp_path / "rule.yml"
    path.write_text(text, encoding="utf-8")
    rejected: list[Rejection] = []
    return [c.query for c in convert_rules([path], None, rejected, lists)], rejected


def test_lists_become_their_values_by_field_type(tmp_path: Path) -> None:
    [query], rejected = convert(tmp_path, RULE, LISTS)
    assert rejected == []
    # An address field: addresses as terms, a network as a CIDR term.
    assert "source.ip:203.0.113.7" in query and "source.ip:10.0.9.0\\/24" in query
    assert "source.ip:2001\\:db8\\:\\:1" in query
    # A text field: every value literally (the star is escaped), on the case-insensitive sub-field.
    assert "user.name.ci:" in query and "svc\\*x" in query and "Backup" in query and "10.0.0.1" in query


def test_a_missing_list_matches_nothing_and_its_negation_everything(tmp_path: Path) -> None:
    [query], rejected = convert(tmp_path, RULE, {"watched": LISTS["watched"]})
    assert rejected == []
    assert "_exists_:@timestamp" in query and "NOT _exists_:@timestamp" not in query  # not (nothing)
    [query], _ = convert(tmp_path, RULE, {"accounts": LISTS["accounts"]})
    assert "NOT _exists_:@timestamp" in query and "source.ip" not in query


def test_string_values_on_an_address_field_keep_the_addresses(tmp_path: Path) -> None:
    text = RULE.replace("'%list:watched%'", "'%list:accounts%'")
    [query], _ = convert(tmp_path, text, LISTS)
    assert "source.ip:10.0.0.1" in query and "source.ip:Backup" not in query


def test_networks_on_a_text_field_are_refused_saying_why(tmp_path: Path) -> None:
    text = RULE.replace("'%list:accounts%'", "'%list:watched%'")
    queries, [rejection] = convert(tmp_path, text, LISTS)
    assert queries == [] and rejection.reason == "watch list"
    assert "%list:watched% holds networks (10.0.9.0/24)" in rejection.message
    assert "user.name is a text field" in rejection.message


def test_without_lists_a_list_rule_is_not_converted(tmp_path: Path) -> None:
    queries, [rejection] = convert(tmp_path, RULE, None)
    assert queries == [] and rejection.reason == "unresolved placeholder"
