"""What a compiled rule is: its metadata (shown with every alert) and its matcher."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from canhgac.rules.context import EventContext

Predicate = Callable[[EventContext], bool]

# Pre-filter clauses kept per rule: more filter better, but each is a layer of the engine's bitset.
MAX_CLAUSES = 3


@dataclass(frozen=True, slots=True)
class RuleMeta:
    """The parts of a Sigma rule an alert carries. Authors are kept: the SigmaHQ licence asks for it."""

    id: str
    title: str
    level: str | None = None
    status: str | None = None
    author: str | None = None
    tags: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    description: str | None = None
    falsepositives: tuple[str, ...] = ()
    logsource: Mapping[str, str] = field(default_factory=dict)
    path: str = ""
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "level": self.level,
            "status": self.status,
            "author": self.author,
            "tags": list(self.tags),
            "references": list(self.references),
            "description": self.description,
            "falsepositives": list(self.falsepositives),
            "logsource": dict(self.logsource),
            "path": self.path,
            "name": self.name,
        }


@dataclass(frozen=True, slots=True)
class Literal:
    """A lower-cased substring (or whole value, when `exact`) a field must hold for a rule to match.

    Used only to skip rules cheaply; a rule is still evaluated in full when its literals are present.
    """

    field: str
    text: str
    exact: bool = False
    # A numeric equality instead: the field holds a value numeric.as_number reads as this number.
    number: float | None = None


@dataclass(slots=True)
class CompiledRule:
    meta: RuleMeta
    predicate: Predicate
    # Clauses that must all hold (each: one of its literals present) for the rule to have a chance
    # to match; () means "always evaluate".
    prefilter: tuple[tuple[Literal, ...], ...]
    fields: frozenset[str] = frozenset()
    # What `predicate` was built from (plan.py): data, kept by the compiled-rule cache.
    plan: tuple[Any, ...] | None = None
