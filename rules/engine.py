"""Streaming matcher: route an event to the rules of its logsource, pre-filter, then evaluate.

Routing: a rule meets an event only when every logsource key the rule names (product, category,
service) equals the event's `canhgac.logsource`; a key the rule leaves out matches anything.
Pre-filter: per route and per field, one Aho-Corasick automaton holds every literal some rule
needs; one scan of the event's lower-cased field value yields the candidate rules. Rules without
a usable literal are always evaluated. The pre-filter only skips rules that cannot match, so the
result equals evaluating every applicable rule (`match_all_applicable`, kept for the benchmark
and tests).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import ahocorasick

from canhgac.core.event import logsource_of
from canhgac.rules.context import EventContext
from canhgac.rules.model import CompiledRule, RuleMeta

log = logging.getLogger(__name__)

LogsourceKey = tuple[str | None, str | None, str | None]  # product, category, service

# Categories that are refinements of a broader one (logsources-thor.yml: registry_set is Sysmon 13,
# which registry_event also covers). An event of the refinement also meets rules of the parent.
CATEGORY_PARENTS: dict[str, tuple[str, ...]] = {
    "registry_add": ("registry_event",),
    "registry_delete": ("registry_event",),
    "registry_set": ("registry_event",),
    "registry_rename": ("registry_event",),
}


def _key(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) and value else None


def rule_logsource(rule: CompiledRule) -> LogsourceKey:
    ls = rule.meta.logsource
    return _key(ls.get("product")), _key(ls.get("category")), _key(ls.get("service"))


def applies(rule_ls: LogsourceKey, product: str | None, categories: frozenset[str], service: str | None) -> bool:
    rp, rc, rs = rule_ls
    return (rp is None or rp == product) and (rc is None or rc in categories) and (rs is None or rs == service)


@dataclass(slots=True)
class _FieldIndex:
    field: str
    exact: dict[str, tuple[int, ...]] = field(default_factory=dict)
    automaton: Any = None
    literal_rules: list[tuple[int, ...]] = field(default_factory=list)


@dataclass(slots=True)
class _Route:
    rules: tuple[int, ...]  # every applicable rule, in load order
    always: frozenset[int]
    fields: tuple[_FieldIndex, ...]


def _build_route(rules: list[CompiledRule], indices: list[int]) -> _Route:
    always: set[int] = set()
    exact: dict[str, dict[str, list[int]]] = {}
    substr: dict[str, dict[str, list[int]]] = {}
    for i in indices:
        pre = rules[i].prefilter
        if not pre:
            always.add(i)
            continue
        for lit in pre:
            table = exact if lit.exact else substr
            table.setdefault(lit.field, {}).setdefault(lit.text, []).append(i)
    indexes: list[_FieldIndex] = []
    for name in sorted(set(exact) | set(substr)):
        fi = _FieldIndex(field=name)
        fi.exact = {text: tuple(ids) for text, ids in exact.get(name, {}).items()}
        literals = substr.get(name)
        if literals:
            automaton = ahocorasick.Automaton()
            for text, ids in literals.items():
                automaton.add_word(text, len(fi.literal_rules))
                fi.literal_rules.append(tuple(ids))
            automaton.make_automaton()
            fi.automaton = automaton
        indexes.append(fi)
    return _Route(rules=tuple(indices), always=frozenset(always), fields=tuple(indexes))


class Engine:
    def __init__(self, rules: Iterable[CompiledRule]) -> None:
        self.rules: list[CompiledRule] = list(rules)
        self._logsources = [rule_logsource(r) for r in self.rules]
        self._routes: dict[tuple[str | None, frozenset[str], str | None], _Route] = {}
        self.evaluation_errors = 0

    def __len__(self) -> int:
        return len(self.rules)

    def _route(self, event: Any) -> _Route:
        ls = logsource_of(event) if isinstance(event, dict) else {}
        product, category, service = _key(ls.get("product")), _key(ls.get("category")), _key(ls.get("service"))
        categories = frozenset((category, *CATEGORY_PARENTS.get(category, ()))) if category else frozenset()
        key = (product, categories, service)
        route = self._routes.get(key)
        if route is None:
            indices = [i for i, rl in enumerate(self._logsources) if applies(rl, product, categories, service)]
            route = _build_route(self.rules, indices)
            self._routes[key] = route
        return route

    def _evaluate(self, rule: CompiledRule, ctx: EventContext) -> bool:
        try:
            return rule.predicate(ctx)
        except Exception:  # a matcher bug must cost one rule on one event, never the stream
            self.evaluation_errors += 1
            log.exception("rule %s failed on an event", rule.meta.id)
            return False

    def candidates(self, route: _Route, ctx: EventContext) -> list[int]:
        found: set[int] = set(route.always)
        for fi in route.fields:
            texts = ctx.lowers(fi.field)
            if not texts:
                continue
            exact, automaton = fi.exact, fi.automaton
            for text in texts:
                if exact:
                    ids = exact.get(text)
                    if ids:
                        found.update(ids)
                if automaton is not None:
                    hits = {lit for _end, lit in automaton.iter(text)}
                    for lit in hits:
                        found.update(fi.literal_rules[lit])
        return sorted(found)

    def match_rules(self, event: Any) -> list[CompiledRule]:
        route = self._route(event)
        if not route.rules:
            return []
        ctx = EventContext(event)
        rules = self.rules
        return [rules[i] for i in self.candidates(route, ctx) if self._evaluate(rules[i], ctx)]

    def match(self, event: Any) -> list[RuleMeta]:
        return [rule.meta for rule in self.match_rules(event)]

    def match_all_applicable(self, event: Any) -> list[RuleMeta]:
        """The straightforward evaluator: every applicable rule's predicate, no pre-filter."""
        route = self._route(event)
        ctx = EventContext(event)
        rules = self.rules
        return [rules[i].meta for i in route.rules if self._evaluate(rules[i], ctx)]
