"""Issue 10 finding 3: YAML from users is parsed without alias expansion, with size and depth bounds."""

from __future__ import annotations

import pytest
import yaml
from canhgac.core.safe_yaml import BoundedSafeLoader, RefusedYAML, load, load_all
from canhgac.rules.convert import convert_rules
from canhgac.rules.loader import Rejection, load_text

from .support import rule


def billion_laughs(levels: int = 9) -> str:
    lines = ['lol0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"lol{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def laughing_rule() -> str:
    # a Sigma rule whose value list is the 9⁹-leaf alias tree: pySigma would walk every leaf
    bomb = billion_laughs().replace("\n", "\n    ")
    return rule("sel:\n  message|contains: *l9\ncondition: sel").replace(
        "detection:\n", f"x-bomb:\n    {bomb}\ndetection:\n"
    )


def test_billion_laughs_is_refused_by_the_rule_loader() -> None:
    result = load_text(laughing_rule(), "upload.yml")
    assert not result.rules
    assert [r.reason for r in result.rejected] == ["refused YAML"]
    assert "aliases" in result.rejected[0].message


def test_billion_laughs_is_refused_by_the_query_converter(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bomb.yml"
    path.write_text(laughing_rule(), encoding="utf-8")
    rejected: list[Rejection] = []
    assert list(convert_rules([path], None, rejected)) == []
    assert [r.reason for r in rejected] == ["refused YAML"]


@pytest.mark.parametrize(
    "text",
    [
        "a: &x [*x]",  # recursive
        "base: &b {k: v}\nother:\n  <<: *b",  # merge key
        "a: &s text\nb: *s",  # a scalar used twice
    ],
)
def test_every_alias_is_refused(text: str) -> None:
    with pytest.raises(RefusedYAML, match="aliases"):
        load(text)


def test_anchors_without_aliases_and_multiple_documents_load() -> None:
    assert load("a: &unused 1") == {"a": 1}
    assert load_all("a: 1\n---\nb: [1, {c: d}]\n") == [{"a": 1}, {"b": [1, {"c": "d"}]}]


def test_depth_size_and_document_limits() -> None:
    with pytest.raises(RefusedYAML, match="deeper"):
        load("x: " + "[" * 100 + "]" * 100)
    with pytest.raises(RefusedYAML, match="over the limit"):
        load("a: " + "x" * 2000, max_bytes=1000)
    with pytest.raises(RefusedYAML, match="documents"):
        load_all("---\na: 1\n" * 20, max_documents=10)
    with pytest.raises(yaml.YAMLError):
        load("a: [unclosed")


def test_the_c_loader_is_used_when_pyyaml_has_it() -> None:
    if yaml.__with_libyaml__:
        assert issubclass(BoundedSafeLoader, yaml.CSafeLoader)
    else:
        assert issubclass(BoundedSafeLoader, yaml.SafeLoader)
