"""Per-event view the matchers read: field values looked up, flattened and lower-cased once.

A rule set touches the same few fields (CommandLine, Image …) from hundreds of rules; caching the
lookup and the lower-casing per event is what keeps evaluation cheap.
"""

from __future__ import annotations

from typing import Any

_ABSENT: tuple[Any, ...] = ()
_MISSING = object()
_SPLIT: dict[str, tuple[str, ...]] = {}


def lookup(event: dict[str, Any], path: str) -> Any:
    """core.event.get_path with the split path cached: a flat key holding the dotted name wins."""
    value = event.get(path, _MISSING)
    if value is not _MISSING:
        return value
    parts = _SPLIT.get(path)
    if parts is None:
        parts = _SPLIT[path] = tuple(path.split("."))
    node: Any = event
    for part in parts:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
        if node is None:
            return None
    return node


def fold(text: str) -> str:
    """Case-fold for caseless comparison; `lower` is the same and faster for ASCII."""
    return text.lower() if text.isascii() else text.casefold()


def scalar_text(value: Any) -> str | None:
    """The text a string matcher sees for one scalar; None for values no string can equal."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def _flatten(value: Any, out: list[Any], depth: int = 0) -> None:
    if isinstance(value, list | tuple) and depth < 8:
        for item in value:
            _flatten(item, out, depth + 1)
    else:
        out.append(value)


class EventContext:
    # `lowered` is public so the engine's pre-filter, which folds every indexed field anyway, can
    # leave its results here for the predicates instead of folding the same text twice.
    __slots__ = ("_text", "_values", "event", "lowered")

    def __init__(self, event: Any) -> None:
        # A non-dict event is treated as an event with no fields rather than an error.
        self.event: dict[str, Any] = event if isinstance(event, dict) else {}
        self._values: dict[str, tuple[Any, ...] | None] = {}
        self._text: dict[str, tuple[str, ...]] = {}
        self.lowered: dict[str, tuple[str, ...]] = {}

    def raw(self, field: str) -> Any:
        return lookup(self.event, field)

    def present(self, field: str) -> bool:
        return self.values(field) is not None

    def values(self, field: str) -> tuple[Any, ...] | None:
        """Scalars of a field (lists flattened); None when the field is absent or null."""
        result = self._values.get(field, _MISSING)
        if result is not _MISSING:
            return result  # type: ignore[return-value]
        raw = lookup(self.event, field)
        if raw is None:
            result = None
        elif isinstance(raw, list | tuple):
            flat: list[Any] = []
            _flatten(raw, flat)
            result = tuple(v for v in flat if v is not None) or None
        else:
            result = (raw,)
        self._values[field] = result
        return result

    def texts(self, field: str) -> tuple[str, ...]:
        result = self._text.get(field)
        if result is not None:
            return result
        raw = lookup(self.event, field)
        if type(raw) is str:  # the common case, without the general path's tuples
            result = self._text[field] = (raw,)
            return result
        values = self.values(field) or _ABSENT
        result = tuple(t for t in map(scalar_text, values) if t is not None)
        self._text[field] = result
        return result

    def lowers(self, field: str) -> tuple[str, ...]:
        result = self.lowered.get(field)
        if result is not None:
            return result
        raw = lookup(self.event, field)
        if type(raw) is str:  # the common case, without the general path's tuples
            result = (raw.lower() if raw.isascii() else raw.casefold(),)
        elif raw is None:
            result = _ABSENT
        else:
            result = tuple(map(fold, self.texts(field)))
        self.lowered[field] = result
        return result
