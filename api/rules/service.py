"""Read-only over the rule library: rules are files (rules/packs and `rules.paths`) that the
detector reloads on change. Validation and tests compile pasted YAML in a worker thread."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from canhgac.core.config import Settings
from canhgac.pipeline.detector import rule_paths
from canhgac.rules.context import EventContext
from canhgac.rules.loader import FileResult, load_rules, load_text


def _placeholders(settings: Settings) -> dict[str, list[str]]:
    return {k: list(v) for k, v in settings.rules.placeholders.items()}


def list_rules(settings: Settings) -> dict[str, Any]:
    result = load_rules(rule_paths(settings.rules), placeholders=_placeholders(settings) or None)
    items = [rule.meta.to_dict() | {"kind": "detection"} for rule in result.rules]
    for corr in result.correlation_rules:
        items.append(
            {
                "id": str(getattr(corr, "id", "") or getattr(corr, "name", "")),
                "title": getattr(corr, "title", ""),
                "level": _enum(getattr(corr, "level", None)),
                "author": getattr(corr, "author", None),
                "kind": "correlation",
            }
        )
    return {
        "items": sorted(items, key=lambda r: str(r.get("title"))),
        "rejected": [asdict(r) for r in result.rejected],
    }


def _enum(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "name", value)).lower()


def _compile(settings: Settings, text: str) -> FileResult:
    return load_text(text, "<pasted>", _placeholders(settings) or None)


def validate(settings: Settings, text: str) -> dict[str, Any]:
    result = _compile(settings, text)
    rules = [r.meta.to_dict() for r in result.rules]
    rules += [
        {"id": str(getattr(c, "id", "")), "title": getattr(c, "title", ""), "kind": "correlation"}
        for c in result.correlation_rules
    ]
    return {
        "valid": bool(rules) and not result.rejected,
        "rules": rules,
        "rejected": [asdict(r) for r in result.rejected],
    }


def test_rules(settings: Settings, text: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    result = _compile(settings, text)
    # Each rule's condition on each event directly: pasted events need not carry a logsource.
    results = []
    for i, event in enumerate(events):
        ctx = EventContext(event)
        results.append({"index": i, "matched": [r.meta.id for r in result.rules if r.predicate(ctx)]})
    return {
        "rules": [r.meta.to_dict() for r in result.rules],
        "rejected": [asdict(r) for r in result.rejected],
        "results": results,
    }


async def run_in_thread(func: Any, *args: Any) -> Any:
    return await asyncio.to_thread(func, *args)
