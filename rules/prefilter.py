"""Literal pre-filter: which rules of one route can possibly match an event.

Each rule brings up to `LAYERS` clauses (an AND of ORs of literals, see compiler.py). Clause k of
the rule at position b of the route owns bit `k * width + b` of one Python int; every literal
maps to the OR of the bits of the clauses it appears in. Per event, the literals found are OR-ed
into one int S, then `S & S >> width & S >> 2·width …` keeps the rules whose every clause was hit.
Big-int OR and AND run in C over a few hundred bytes, so a hit costs about as much as a dict
lookup, however many rules share the literal; the earlier clause-id sets and counters cost
several times the whole evaluation.

Fields are grouped by parent object (`winlog.event_data` …), so an event is walked once per
parent rather than once per field, and each present string value is folded once — the fold is
left in the EventContext for the predicates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from canhgac.rules.compiler import strength
from canhgac.rules.context import EventContext
from canhgac.rules.literal_set import LiteralSet, utf8
from canhgac.rules.model import MAX_CLAUSES, CompiledRule, Literal
from canhgac.rules.numeric import as_number

LAYERS = MAX_CLAUSES
Clause = tuple[Literal, ...]
Requirement = tuple[Clause, ...]
# Ints up to this convert to float exactly, so they find the same numeric keys as their float.
_EXACT_INT = 2**53
# A clause whose weakest literal is shorter than this (`user`, `:\\`) lets most events through.
WEAK_CLAUSE = 6


@dataclass(slots=True)
class FieldIndex:
    path: str
    exact: dict[str, int] = field(default_factory=dict)  # folded whole value → clause bits
    substrings: LiteralSet | None = None  # folded substrings, one native pass (literal_set.py)
    substring_bits: tuple[int, ...] = ()  # clause bits of each of `substrings`
    # A field whose substrings are all one ASCII character tests them with `in` (memchr) rather
    # than a set search; otherwise they are in the set with the rest.
    chars: tuple[tuple[str, int], ...] = ()
    numbers: dict[float, int] = field(default_factory=dict)  # numeric value → clause bits


# The per-event loop unpacks these tuples rather than reading FieldIndex attributes: the leaf
# name, then path, exact, the substring set's match (UTF-8 bytes → indices) and bits, chars,
# numbers, with None for an empty table.
Leaf = tuple[
    str,
    str,
    "dict[str, int] | None",
    Any,
    tuple[int, ...],
    tuple[tuple[str, int], ...],
    "dict[float, int] | None",
]


def _is_char(text: str) -> bool:
    return len(text) == 1 and text.isascii()


def _or_into(table: dict[Any, int], key: Any, bit: int) -> None:
    table[key] = table.get(key, 0) | bit


def _fields(clause: Clause) -> set[str]:
    return {lit.field for lit in clause}


def _scanned_clauses(requirements: Sequence[Requirement]) -> list[Requirement]:
    """Each rule's clauses, less those on fields no rule needs otherwise.

    Every scanned field costs each event about a microsecond, found literal or not; a field only
    some multi-clause rules mention (User, LogonId, FileVersion …) is dropped from them when
    another of their clauses, on a field scanned anyway, filters well enough. Dropping a clause
    only widens the candidates, so this never loses a match.
    """
    needed: set[str] = set()
    for clauses in requirements:
        if len(clauses) == 1:
            needed |= _fields(clauses[0])
    for clauses in requirements:
        if len(clauses) < 2:
            continue
        # the compiler put the most selective clause first
        kept = [c for c in clauses if _fields(c) <= needed]
        if not kept or (kept[0] is not clauses[0] and strength(kept[0]) < WEAK_CLAUSE):
            needed |= _fields(clauses[0])
    return [tuple(c for c in clauses if _fields(c) <= needed) for clauses in requirements]


def _index_fields(rules: Sequence[CompiledRule], indices: Sequence[int]) -> tuple[int, dict[str, FieldIndex]]:
    """(bits set before any literal is seen, field path → index) for the rules at `indices`."""
    width = len(indices)
    start = 0
    by_path: dict[str, FieldIndex] = {}
    substrings: dict[str, dict[str, int]] = {}
    requirements = _scanned_clauses([rules[i].prefilter for i in indices])
    for position, (rule_index, clauses) in enumerate(zip(indices, requirements, strict=True)):
        if len(clauses) > LAYERS:
            raise ValueError(f"rule {rules[rule_index].meta.id} has more than {LAYERS} clauses")
        for layer in range(len(clauses), LAYERS):  # a missing clause always holds
            start |= 1 << (layer * width + position)
        for layer, clause in enumerate(clauses):
            bit = 1 << (layer * width + position)
            for lit in clause:
                fi = by_path.setdefault(lit.field, FieldIndex(lit.field))
                if lit.number is not None:
                    _or_into(fi.numbers, lit.number, bit)
                elif lit.exact:
                    _or_into(fi.exact, lit.text, bit)
                else:
                    _or_into(substrings.setdefault(lit.field, {}), lit.text, bit)
    for path, table in substrings.items():
        fi = by_path[path]
        if all(_is_char(text) for text in table):
            # a set search costs a C call (~1 µs); a few `in` tests (memchr) cost less
            fi.chars = tuple(table.items())
        else:
            # one set search reports each literal once, one-character ones too
            fi.substrings = LiteralSet(list(table))
            fi.substring_bits = tuple(table.values())
    return start, by_path


class RouteIndex:
    """The pre-filter of one route: `candidates(ctx)` → indices into the engine's rule list, in
    load order, a superset of the rules that match."""

    __slots__ = ("_full", "_groups", "_start", "_width", "fields", "native", "rules")

    def __init__(self, rules: Sequence[CompiledRule], indices: Sequence[int]) -> None:
        self.rules = tuple(indices)
        self._width = len(indices)
        self._full = (1 << self._width) - 1
        self._start, by_path = _index_fields(rules, indices)
        self.fields = by_path
        groups: dict[tuple[str, ...], list[Leaf]] = {}
        for path, fi in sorted(by_path.items()):
            *parent, leaf = path.split(".")
            match = fi.substrings.match if fi.substrings is not None else None
            groups.setdefault(tuple(parent), []).append(
                (leaf, path, fi.exact or None, match, fi.substring_bits, fi.chars, fi.numbers or None)
            )
        self._groups = tuple((parent, tuple(leaves)) for parent, leaves in groups.items())
        # The same route in native code (native.py), set by the engine when it has one.
        self.native: Any = None

    @property
    def start_bits(self) -> int:
        """Clause bits set before any literal is seen (rules with fewer clauses than LAYERS)."""
        return self._start

    @staticmethod
    def _scan(fi: FieldIndex, ctx: EventContext) -> int:
        """Clause bits of one field, by the general path (lists, dicts, floats …)."""
        hits = 0
        exact, substrings, chars = fi.exact, fi.substrings, fi.chars
        for text in ctx.lowers(fi.path):
            hits |= exact.get(text, 0)
            if substrings is not None:
                for index in substrings.find(text):
                    hits |= fi.substring_bits[index]
            for char, bits in chars:
                if char in text:
                    hits |= bits
        if fi.numbers:
            for value in ctx.values(fi.path) or ():
                number = as_number(value)
                if number is not None:
                    hits |= fi.numbers.get(number, 0)
        return hits

    def candidates(self, ctx: EventContext) -> list[int]:
        event = ctx.event
        try:
            # a top-level key holding a dotted name overrides the nested value (context.lookup):
            # such events take the general path
            flat_keys = "." in "".join(event)
        except TypeError:  # non-string keys in a hand-made event
            flat_keys = True
        if flat_keys:
            hits = self._start
            for fi in self.fields.values():
                hits |= self._scan(fi, ctx)
            return self._decode(hits)
        return self._decode(self._hits(ctx))

    def _hits(self, ctx: EventContext) -> int:
        """Clause bits of an event without dotted top-level keys: one walk per parent object,
        strings and ints handled inline (the same texts ctx.lowers would give), the rest by
        the general path."""
        hits = self._start
        lowered = ctx.lowered
        for parents, leaves in self._groups:
            node: Any = ctx.event
            for part in parents:
                node = node.get(part)
                if not isinstance(node, dict):
                    break
            else:
                for leaf, path, exact, match, substring_bits, chars, numbers in leaves:
                    value = node.get(leaf)
                    if value is None:
                        # absent: say so to the predicates, which often ask (NewProcessName …)
                        lowered[path] = ()
                        continue
                    kind = type(value)
                    if kind is str:
                        text = value.lower() if value.isascii() else value.casefold()
                    elif kind is int:
                        text = str(value)
                    else:
                        hits |= self._scan(self.fields[path], ctx)
                        continue
                    lowered[path] = (text,)
                    if numbers is not None:
                        if kind is int and -_EXACT_INT <= value <= _EXACT_INT:
                            # EventID and the like: an int equals the float key as_number would
                            # give (same hash), without the call
                            hits |= numbers.get(value, 0)
                        else:
                            number = as_number(value)
                            if number is not None:
                                hits |= numbers.get(number, 0)
                    if exact is not None:
                        hits |= exact.get(text, 0)
                    if match is not None:
                        try:
                            found = match(text.encode())
                        except UnicodeEncodeError:
                            found = match(utf8(text))
                        for index in found:
                            hits |= substring_bits[index]
                    for char, bits in chars:
                        if char in text:
                            hits |= bits
        return hits

    def _decode(self, hits: int) -> list[int]:
        """Rules whose bit is set in every layer, as engine rule indices in load order."""
        width = self._width
        found = hits & self._full
        for layer in range(1, LAYERS):
            found &= hits >> (layer * width)
        rules = self.rules
        out: list[int] = []
        while found:  # from the top bit down: each step shortens the int it works on
            top = found.bit_length() - 1
            out.append(rules[top])
            found ^= 1 << top
        out.reverse()
        return out


__all__ = ["LAYERS", "FieldIndex", "RouteIndex"]
