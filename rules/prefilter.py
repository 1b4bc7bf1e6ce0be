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

import ahocorasick
from canhgac.rules.context import EventContext
from canhgac.rules.matchers import as_number
from canhgac.rules.model import MAX_CLAUSES, CompiledRule

LAYERS = MAX_CLAUSES


@dataclass(slots=True)
class FieldIndex:
    path: str
    exact: dict[str, int] = field(default_factory=dict)  # folded whole value → clause bits
    automaton: Any = None  # folded substring (2+ characters) → clause bits
    # One-character ASCII literals are tested with `in`: in the automaton a common one (`\`, `.`)
    # would report every occurrence. Non-ASCII ones (an emoji rule has hundreds) are rare in
    # text and stay in the automaton.
    chars: tuple[tuple[str, int], ...] = ()
    numbers: dict[float, int] = field(default_factory=dict)  # numeric value → clause bits
    numbers_only: bool = False


def _is_char(text: str) -> bool:
    return len(text) == 1 and text.isascii()


def _or_into(table: dict[Any, int], key: Any, bit: int) -> None:
    table[key] = table.get(key, 0) | bit


class RouteIndex:
    """The pre-filter of one route: `candidates(ctx)` → indices into the engine's rule list, in
    load order, a superset of the rules that match."""

    __slots__ = ("_full", "_groups", "_start", "_width", "rules")

    def __init__(self, rules: Sequence[CompiledRule], indices: Sequence[int]) -> None:
        self.rules = tuple(indices)
        width = self._width = len(indices)
        self._full = (1 << width) - 1
        start = 0
        by_path: dict[str, FieldIndex] = {}
        substrings: dict[str, dict[str, int]] = {}
        for position, rule_index in enumerate(indices):
            clauses = rules[rule_index].prefilter
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
        self._start = start
        for path, table in substrings.items():
            fi = by_path[path]
            fi.chars = tuple((text, bits) for text, bits in table.items() if _is_char(text))
            long = {text: bits for text, bits in table.items() if not _is_char(text)}
            if long:
                fi.automaton = ahocorasick.Automaton()
                for text, bits in long.items():
                    fi.automaton.add_word(text, bits)
                fi.automaton.make_automaton()
        for fi in by_path.values():
            fi.numbers_only = bool(fi.numbers) and not (fi.exact or fi.automaton or fi.chars)
        groups: dict[tuple[str, ...], dict[str, FieldIndex]] = {}
        for path, fi in sorted(by_path.items()):
            *parent, leaf = path.split(".")
            groups.setdefault(tuple(parent), {})[leaf] = fi
        self._groups = tuple((parent, tuple(leaves.items())) for parent, leaves in groups.items())

    @staticmethod
    def _scan(fi: FieldIndex, texts: tuple[str, ...], ctx: EventContext) -> int:
        """Clause bits of one field's folded texts (the general path: lists, numbers …)."""
        hits = 0
        exact, automaton, chars = fi.exact, fi.automaton, fi.chars
        for text in texts:
            hits |= exact.get(text, 0)
            if automaton is not None:
                for _end, bits in automaton.iter(text):
                    hits |= bits
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
        hits = self._start
        scan = self._scan
        try:
            # a top-level key holding a dotted name overrides the nested value (context.lookup):
            # such events take the per-field path
            flat_keys = "." in "".join(event)
        except TypeError:  # non-string keys in a hand-made event
            flat_keys = True
        if flat_keys:
            for _parents, leaves in self._groups:
                for _leaf, fi in leaves:
                    hits |= scan(fi, ctx.lowers(fi.path), ctx)
            return self._decode(hits)
        lowered = ctx.lowered
        for parents, leaves in self._groups:
            node: Any = event
            for part in parents:
                node = node.get(part)
                if not isinstance(node, dict):
                    break
            else:
                for leaf, fi in leaves:
                    value = node.get(leaf)
                    if value is None:
                        continue
                    if type(value) is not str or fi.numbers:
                        if type(value) is int and fi.numbers_only:  # EventID and the like
                            hits |= fi.numbers.get(as_number(value), 0)
                        else:
                            hits |= scan(fi, ctx.lowers(fi.path), ctx)
                        continue
                    # the common case, inlined: one string, folded once and kept for the predicates
                    text = value.lower() if value.isascii() else value.casefold()
                    lowered[fi.path] = (text,)
                    hits |= fi.exact.get(text, 0)
                    automaton = fi.automaton
                    if automaton is not None:
                        for _end, bits in automaton.iter(text):
                            hits |= bits
                    for char, bits in fi.chars:
                        if char in text:
                            hits |= bits
        return self._decode(hits)

    def _decode(self, hits: int) -> list[int]:
        """Rules whose bit is set in every layer, as engine rule indices in load order."""
        width = self._width
        found = hits & self._full
        for layer in range(1, LAYERS):
            found &= hits >> (layer * width)
        rules = self.rules
        out: list[int] = []
        while found:
            low = found & -found
            out.append(rules[low.bit_length() - 1])
            found ^= low
        return out


__all__ = ["LAYERS", "FieldIndex", "RouteIndex"]
