"""The event contract (topic canhgac.events.v1): ECS 8.x fields as nested JSON objects.

`canhgac.*` carries our own fields: source_id, agency, raw_id, dataset, and logsource
{product, category, service} which routes the event to the Sigma rules that can apply to it.
Windows events keep `winlog.event_data.<Field>` verbatim, as Winlogbeat does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Event = dict[str, Any]

_MISSING = object()


def get_path(event: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    """Read `a.b.c`; a flat key holding the dotted name wins (ECS allows both spellings). Nested
    objects are walked while they are dicts (JSON objects), as events and alerts are."""
    if dotted in event:
        return event[dotted]
    node: Any = event
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return default
        node = node.get(part, _MISSING)
        if node is _MISSING:
            return default
    return node


def set_path(event: Event, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = event
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def set_logsource(
    event: Event, *, product: str | None = None, category: str | None = None, service: str | None = None
) -> None:
    logsource = {k: v for k, v in (("product", product), ("category", category), ("service", service)) if v}
    event.setdefault("canhgac", {})["logsource"] = logsource


def logsource_of(event: Event) -> dict[str, str]:
    ls = get_path(event, "canhgac.logsource")
    return ls if isinstance(ls, dict) else {}
