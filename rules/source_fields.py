"""Sigma fields whose event name depends on the event's log source (exact alias semantics).

Sigma's `process_creation` taxonomy names the new process `Image` and its parent `ParentImage`;
Sysmon 1 uses those names, Security 4688 calls them `NewProcessName` and `ParentProcessName`
(logsources-thor.yml, the mapping SigmaHQ's own CI uses). A condition on such a field reads the one
name the event's source uses: on a Security event `Image` is `NewProcessName`, on any other event it
is `Image`. So `Image: null` means "this event has no image" (never "one of the two names is
missing", which every event satisfies), and `not Image|endswith: x` is negated on that one name.

The stream compiler (compiler.py) dispatches each aliased condition on the event's
`canhgac.logsource.service`; the OpenSearch converter (convert.py) writes one branch per service.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from canhgac.rules.fieldmap import WINDOWS_EVENT_DATA

# (product, category) → service → {Sigma field: the name that service's events use}. A service not
# listed reads the Sigma name itself.
SOURCE_FIELD_NAMES: dict[tuple[str, str], dict[str, dict[str, str]]] = {
    ("windows", "process_creation"): {
        "security": {"Image": "NewProcessName", "ParentImage": "ParentProcessName"},
    },
}

# The event path the compiled rule names → {service: the path that service's events hold instead}.
SourceAliases = Mapping[str, Mapping[str, str]]


def _key(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) and value else None


def source_names(logsource: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """service → {Sigma field: that service's name} for a rule's logsource; {} when no field of
    this logsource is aliased. A rule that pins a service is dispatched the same way: every event
    routed to it has that service, so it reads that service's names."""
    product, category = _key(logsource.get("product")), _key(logsource.get("category"))
    if product is None or category is None:
        return {}
    return SOURCE_FIELD_NAMES.get((product, category), {})


def source_aliases(logsource: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Event paths (after field mapping) → {service: path}, for the compiler's per-event dispatch."""
    prefix = WINDOWS_EVENT_DATA if _key(logsource.get("product")) == "windows" else ""
    result: dict[str, dict[str, str]] = {}
    for service, names in source_names(logsource).items():
        for sigma_name, name in names.items():
            result.setdefault(prefix + sigma_name, {})[service] = prefix + name
    return result


__all__ = ["SOURCE_FIELD_NAMES", "SourceAliases", "source_aliases", "source_names"]
