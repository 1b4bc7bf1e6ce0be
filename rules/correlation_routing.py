"""Where a correlation match is counted when several detector replicas run.

Events reach the detector partitioned by source, but a correlation group (five failed logins from
one address) spans sources. The detector therefore re-keys every match a correlation can count
(the Kafka Streams re-partition pattern): the key holds the rule *family* and the group values its
rules share, so all matches that can ever share a window land on one partition of the correlation
input topic, whose owner alone keeps that window (docs/correlation.md, Scale-out).

A family is a set of correlation rules linked by nesting (an inner rule's alerts feed the outer
one): their windows must live together. Its routing fields are the group-by names every member
has; a nested inner alert hands its group to the outer rule, so a shared name has one value along
the chain. A family whose members share no group-by name is routed by the family alone (one
partition for all of it: correct, not spread). The agency is part of the key unless a member
spans agencies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from canhgac.core.event import Event
from canhgac.rules.correlation_spec import CorrelationSpec

# One feed: (correlation rule key, position of the referenced rule in it).
Feed = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Family:
    name: str  # the smallest member rule key: stable while the family's rules stay the same
    members: tuple[int, ...]  # spec indices
    fields: tuple[str, ...]  # group-by names every member shares, in the first member's order
    cross_agency: bool


@dataclass(frozen=True, slots=True)
class Route:
    key: str  # Kafka key of the correlation input record
    feeds: tuple[Feed, ...]  # what the event counts for under this key, and nothing else


def build_families(specs: Sequence[CorrelationSpec], nested: Sequence[Sequence[tuple[int, int]]]) -> list[int]:
    """Spec index -> family number (union-find over nesting links); numbers follow spec order."""
    parent = list(range(len(specs)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for inner, outers in enumerate(nested):
        for outer, _pos in outers:
            a, b = root(inner), root(outer)
            if a != b:
                parent[max(a, b)] = min(a, b)
    roots: dict[int, int] = {}
    return [roots.setdefault(root(i), len(roots)) for i in range(len(specs))]


def describe_families(specs: Sequence[CorrelationSpec], family_of: Sequence[int]) -> list[Family]:
    out = []
    for number in range(max(family_of, default=-1) + 1):
        members = tuple(i for i, f in enumerate(family_of) if f == number)
        first = specs[members[0]].group_by
        shared = tuple(name for name in first if all(name in specs[i].group_by for i in members))
        out.append(
            Family(
                name=min(specs[i].key for i in members),
                members=members,
                fields=shared,
                cross_agency=any(specs[i].cross_agency for i in members),
            )
        )
    return out


class Router:
    """Routes of one event's base-rule feeds; pure (the detector produces what it returns)."""

    def __init__(
        self,
        specs: Sequence[CorrelationSpec],
        nested: Sequence[Sequence[tuple[int, int]]],
        resolve: Callable[[Event, str], Any],
    ) -> None:
        self._specs = specs
        self._family_of = build_families(specs, nested)
        self.families = describe_families(specs, self._family_of)
        self._resolve = resolve

    def routes(self, event: Event, feeds: Sequence[tuple[int, int]], agency: str | None) -> list[Route]:
        """Group the (spec index, position) feeds of one event by routing key."""
        by_key: dict[str, list[Feed]] = {}
        for ci, pos in feeds:
            spec = self._specs[ci]
            family = self.families[self._family_of[ci]]
            values = []
            for name in family.fields:
                field_name = spec.group_fields[pos][spec.group_by.index(name)]
                values.append(self._resolve(event, field_name))
            scope = [family.name, None if family.cross_agency else agency, *values]
            key = orjson.dumps(scope, default=str).decode()
            by_key.setdefault(key, []).append((spec.key, pos))
        return [Route(key, tuple(sorted(set(f)))) for key, f in by_key.items()]
