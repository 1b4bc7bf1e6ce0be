"""Build an engine from inline Sigma YAML and ask whether it matches an event."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from canhgac.rules.engine import Engine
from canhgac.rules.loader import FileResult, load_text


def load(yaml_text: str, placeholders: Mapping[str, Sequence[str]] | None = None) -> FileResult:
    return load_text(textwrap.dedent(yaml_text), "inline.yml", placeholders)


def rule(detection: str, logsource: str = "product: test", extra: str = "") -> str:
    """A minimal rule document around an indented `detection:` body."""
    body = textwrap.indent(textwrap.dedent(detection).strip(), "    ")
    return (
        "title: Test rule\nid: 11111111-1111-4111-8111-111111111111\nstatus: test\n"
        f"logsource:\n    {logsource}\n{extra}detection:\n{body}\n"
    )


def event(fields: dict[str, Any], product: str = "test", **logsource: str) -> dict[str, Any]:
    return {**fields, "canhgac": {"logsource": {"product": product, **logsource}}}


def matches(
    detection: str,
    fields: dict[str, Any],
    placeholders: Mapping[str, Sequence[str]] | None = None,
    logsource: str = "product: test",
) -> bool:
    result = load(rule(detection, logsource), placeholders)
    assert not result.rejected, result.rejected
    assert len(result.rules) == 1
    engine = Engine(result.rules, native=False)
    ev = event(fields)
    fast = bool(engine.match(ev))
    # the pre-filtered path and the plain evaluator must always agree, and so must the native
    # engine (rules/native.py; test_native_engine.py checks it is built)
    assert fast == bool(engine.match_all_applicable(ev))
    assert fast == bool(Engine(result.rules, native=True).match(ev))
    return fast
