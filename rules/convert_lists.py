"""Watch lists in converted queries: a rule value naming a list (`field|expand: '%list:NAME%'`,
core/watchlists.py) becomes the list's values, as they are when the rule is converted — what a
back-test or a retro-hunt asks OpenSearch, where the detector looks the list up per event.

The expansion answers what the detector's per-event lookup answers, by the field's type in the event
store (core/store.py):

| list     | address field (`source.ip` …)      | text field (`.ci` keyword)           | number / date field        |
| -------- | ---------------------------------- | ------------------------------------ | -------------------------- |
| `string` | the values that are addresses      | every value, literally (no wildcard) | the values of that type    |
| `ip`     | addresses as terms, networks as CIDR | addresses as terms; networks refused | nothing (never an address) |

A list that does not exist, or holds nothing the field can equal, matches nothing, as on the stream:
the value is dropped from the field's alternatives, and a field left with none never matches (it
becomes `NOT _exists_:@timestamp`: every stored event has a time, and back-tests and retro-hunts
search a time range). The one refusal (`RuleError`, reason "watch list"): an `ip` list holding
networks on a text field — a query cannot test a text value against a network (the detector parses
it as an address), so the rule is refused saying so rather than answered wrongly.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from canhgac.core.errors import RuleError
from canhgac.core.store import EVENT_PROPERTIES
from canhgac.core.watchlists import WatchList, list_placeholder
from canhgac.rules.matchers import list_reference
from sigma.conditions import ConditionAND
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations.base import DetectionItemTransformation
from sigma.rule import SigmaDetectionItem
from sigma.types import Placeholder, SigmaCIDRExpression, SigmaExpansion, SigmaNull, SigmaString, SigmaType

TIME_FIELD = "@timestamp"  # every stored event has it; back-tests and hunts filter a range on it
INTEGER = re.compile(r"^-?(0|[1-9][0-9]*)$")


def _field_types(properties: Mapping[str, object], prefix: str = "") -> dict[str, str]:
    """Dotted name -> type of the event template's non-string fields."""
    types: dict[str, str] = {}
    for name, spec in properties.items():
        if not isinstance(spec, Mapping):
            continue
        if isinstance(spec.get("properties"), Mapping):
            types |= _field_types(spec["properties"], f"{prefix}{name}.")
        elif spec.get("type") not in (None, "keyword", "text", "object"):
            types[f"{prefix}{name}"] = str(spec["type"])
    return types


FIELD_TYPES = _field_types(EVENT_PROPERTIES)


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _fits(kind: str, value: str) -> bool:
    """Could a field of this store type hold a value whose text is `value`?"""
    if kind == "ip":
        return _is_address(value)
    if kind in ("long", "integer", "short", "byte"):
        return bool(INTEGER.match(value))
    if kind == "date":
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        return True
    return True


def expansion(field_name: str, name: str, listed: WatchList | None) -> list[SigmaType]:
    """The values `field_name|expand: '%list:name%'` stands for, as query values."""
    if listed is None:
        return []
    kind = FIELD_TYPES.get(field_name)
    if listed.type == "string":
        return [SigmaString.from_str(v) for v in listed.values if kind is None or _fits(kind, v)]
    addresses = [v for v in listed.values if "/" not in v]
    networks = [v for v in listed.values if "/" in v]
    if kind == "ip":
        return [SigmaString.from_str(a) for a in addresses] + [SigmaCIDRExpression(n) for n in networks]
    if kind is not None:
        return []  # a number or a date is never an address
    if networks:
        raise RuleError(
            f"the watch list %list:{name}% holds networks ({networks[0]}"
            f"{', …' if len(networks) > 1 else ''}) and {field_name} is a text field in the event store: "
            "a query cannot test text against a network (the detector parses each value as an address); "
            "name an address field (source.ip, destination.ip …) or list single addresses",
            reason="watch list",
        )
    return [SigmaString.from_str(a) for a in addresses]


def _partial_list(value: SigmaType) -> str | None:
    """A list placeholder inside a longer value (refused, as by the detector)."""
    if not isinstance(value, SigmaString):
        return None
    for part in value.s:
        if isinstance(part, Placeholder) and list_placeholder(part.name) is not None:
            return part.name
    return None


@dataclass
class ListExpansion(DetectionItemTransformation):
    """Replace every list placeholder value with the list's values (after the field mapping, so the
    field is the store's name; before the `.ci` suffix)."""

    lists: Mapping[str, WatchList] = field(default_factory=dict)

    def apply_detection_item(self, detection_item: SigmaDetectionItem) -> SigmaDetectionItem | None:
        names = [list_reference(v) for v in detection_item.value]
        if all(n is None for n in names):
            for value in detection_item.value:
                if (partial := _partial_list(value)) is not None:
                    message = f"list placeholder %{partial}% must be the whole value"
                    raise RuleError(message, reason="unresolved placeholder")
            return None
        field_name = str(detection_item.field)
        and_linked = detection_item.value_linking is ConditionAND
        values: list[SigmaType] = []
        never = False
        for value, name in zip(detection_item.value, names, strict=True):
            if name is None:
                values.append(value)
                continue
            found = expansion(field_name, name, self.lists.get(name))
            if not and_linked:
                values += found  # one more alternative each
            elif not found:
                never = True  # all of … including a value of an empty list
            elif all(isinstance(v, SigmaString) for v in found):
                values.append(SigmaExpansion(found))  # all of …, one of the list
            else:
                raise RuleError(
                    f"the watch list %list:{name}% holds networks and the value is under `|all`: the "
                    "query backend cannot group networks there (name the list in a selection of its own)",
                    reason="watch list",
                )
        if never or not values:
            # Matches nothing (its negation, everything), as a list holding nothing on the stream.
            detection_item.field = TIME_FIELD
            detection_item.value = [SigmaNull()]
            detection_item.value_linking = ConditionAND
        else:
            detection_item.value = values
        self.processing_item_applied(detection_item)
        return None


def list_pipeline(lists: Mapping[str, WatchList]) -> ProcessingPipeline:
    return ProcessingPipeline(
        name="canhgac watch lists",
        priority=50,  # after the field mapping (20, 21), before the `.ci` sub-fields (100)
        items=[ProcessingItem(identifier="canhgac_watch_lists", transformation=ListExpansion(lists=lists))],
    )
