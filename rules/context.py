"""Per-event view the matchers read: field values looked up, flattened and lower-cased once.

A rule set touches the same few fields (CommandLine, Image …) from hundreds of rules; caching the
lookup and the lower-casing per event is what keeps evaluation cheap.
"""

from __future__ import annotations

from typing import Any

from canhgac.core.event import get_path

_ABSENT: tuple[Any, ...] = ()


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
    __slots__ = ("_lower", "_text", "_values", "event")

    def __init__(self, event: Any) -> None:
        # A non-dict event is treated as an event with no fields rather than an error.
        self.event: dict[str, Any] = event if isinstance(event, dict) else {}
        self._values: dict[str, tuple[Any, ...] | None] = {}
        self._text: dict[str, tuple[str, ...]] = {}
        self._lower: dict[str, tuple[str, ...]] = {}

    def raw(self, field: str) -> Any:
        return get_path(self.event, field)

    def present(self, field: str) -> bool:
        return self.values(field) is not None

    def values(self, field: str) -> tuple[Any, ...] | None:
        """Scalars of a field (lists flattened); None when the field is absent or null."""
        try:
            return self._values[field]
        except KeyError:
            pass
        raw = get_path(self.event, field)
        result: tuple[Any, ...] | None
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
        try:
            return self._text[field]
        except KeyError:
            pass
        values = self.values(field) or _ABSENT
        result = tuple(t for t in map(scalar_text, values) if t is not None)
        self._text[field] = result
        return result

    def lowers(self, field: str) -> tuple[str, ...]:
        try:
            return self._lower[field]
        except KeyError:
            pass
        result = tuple(map(fold, self.texts(field)))
        self._lower[field] = result
        return result
