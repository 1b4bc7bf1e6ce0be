"""Streaming matcher: route an event to the rules of its logsource, pre-filter, then evaluate.

Routing: a rule meets an event only when every logsource key the rule names (product, category,
service) equals the event's `canhgac.logsource`; a key the rule leaves out matches anything.
Pre-filter (prefilter.py): per route and per field, one RE2 literal set (literal_set.py) holds every
literal some rule needs; one scan of the event's lower-cased field value yields clause bits, and the rules
whose every clause was hit are the candidates. Rules without a usable literal are always
evaluated. The pre-filter only skips rules that cannot match, so the result equals evaluating
every applicable rule (`match_all_applicable`, kept for the benchmark and tests).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from canhgac.core.event import logsource_of
from canhgac.rules import native as native_routes
from canhgac.rules.context import EventContext
from canhgac.rules.model import CompiledRule, RuleMeta
from canhgac.rules.plan import firing_conditions, firing_fields
from canhgac.rules.prefilter import RouteIndex

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


class Engine:
    def __init__(self, rules: Iterable[CompiledRule], native: bool | None = None) -> None:
        """`native`: evaluate routes in native code (native.py); None = when the extension is
        installed and not switched off, False = the Python engine alone."""
        self.rules: list[CompiledRule] = list(rules)
        self.native = native_routes.wanted() if native is None else native and native_routes.available()
        self._logsources = [rule_logsource(r) for r in self.rules]
        self._routes: dict[tuple[str | None, frozenset[str], str | None], RouteIndex] = {}
        self._routes_by_raw: dict[tuple[Any, Any, Any], RouteIndex] = {}
        self.evaluation_errors = 0
        self._by_id: dict[str, CompiledRule] | None = None

    def __len__(self) -> int:
        return len(self.rules)

    def _route(self, event: Any) -> RouteIndex:
        ours = event.get("canhgac") if isinstance(event, dict) else None
        ls = ours.get("logsource") if isinstance(ours, dict) else None
        if isinstance(ls, dict):
            raw = (ls.get("product"), ls.get("category"), ls.get("service"))
            try:
                return self._routes_by_raw[raw]
            except (KeyError, TypeError):  # TypeError: an unhashable value in a hand-made event
                pass
        route = self._resolve_route(event)
        if isinstance(ls, dict) and len(self._routes_by_raw) < 4096:
            try:
                self._routes_by_raw[raw] = route
            except TypeError:
                pass
        return route

    def _resolve_route(self, event: Any) -> RouteIndex:
        ls = logsource_of(event) if isinstance(event, dict) else {}
        product, category = _key(ls.get("product")), _key(ls.get("category"))
        service = _key(ls.get("service"))
        categories = frozenset((category, *CATEGORY_PARENTS.get(category, ()))) if category else frozenset()
        key = (product, categories, service)
        route = self._routes.get(key)
        if route is None:
            indices = [i for i, rl in enumerate(self._logsources) if applies(rl, product, categories, service)]
            route = RouteIndex(self.rules, indices)
            if self.native:
                route.native = native_routes.compile_route(self.rules, route, service)
            self._routes[key] = route
        return route

    def _failed(self, rule: CompiledRule, error: BaseException | None = None) -> None:
        # a matcher bug must cost one rule on one event, never the stream
        self.evaluation_errors += 1
        log.error("rule %s failed on an event", rule.meta.id, exc_info=error if error is not None else True)

    def _evaluate(self, indices: Iterable[int], ctx: EventContext) -> list[CompiledRule]:
        rules, found = self.rules, []
        for i in indices:
            rule = rules[i]
            try:
                if rule.predicate(ctx):
                    found.append(rule)
            except Exception:
                self._failed(rule)
        return found

    def candidates(self, event: Any) -> list[int]:
        """Rules the pre-filter lets through for this event (a superset of its matches)."""
        return self._route(event).candidates(EventContext(event))

    def match_rules(self, event: Any) -> list[CompiledRule]:
        route = self._route(event)
        if not route.rules:
            return []
        if route.native is not None:
            done = route.native.match_event(event)
            if done is not None:  # else an event only the Python engine reads exactly (native.py)
                return self._native_found(done)
        ctx = EventContext(event)
        return self._evaluate(route.candidates(ctx), ctx)

    def match_json(self, raw: bytes) -> list[RuleMeta] | None:
        """The rules that match the normalized event whose JSON bytes are `raw`, read without
        making it a dict (the detector's hot path: most events match nothing and are never
        decoded); None when the caller must decode it and call `match` — the native routes are
        off, the bytes are for orjson to judge (native.parse_json), the event's route is not yet
        known, or the route hands the event to the Python engine."""
        if not self.native:
            return None
        event = native_routes.parse_json(raw)
        if event is None:
            return None
        # logsource() is None when not plain strings; a route not yet resolved is resolved by
        # `match` on the decoded event, then cached
        route = self._routes_by_raw.get(event.logsource())
        if route is None:
            return None
        if not route.rules:
            return []
        if route.native is None:
            return None
        done = route.native.match_json(event)
        if done is None:
            return None
        return [rule.meta for rule in self._native_found(done)]

    def _native_found(self, done: tuple[list[int], list[tuple[int, BaseException]]]) -> list[CompiledRule]:
        """A native route's answer: its matching rules; a rule that raised is counted and logged
        as the Python evaluation does (`_failed`)."""
        found, failures = done
        for index, error in failures:
            self._failed(self.rules[index], error)
        return [self.rules[i] for i in found]

    def firing_fields(self, rule_id: str, event: dict[str, Any]) -> list[str]:
        """The event's fields whose conditions of rule `rule_id` hold (plan.firing_fields); [] for
        a rule this engine does not hold or whose plan is not kept."""
        rule = self._planned(rule_id)
        if rule is None:
            return []
        try:
            return firing_fields(rule.plan, event)
        except Exception:
            self._failed(rule)
            return []

    def firing_conditions(self, rule_id: str, event: dict[str, Any]) -> list[dict[str, str]]:
        """Each firing field with the condition that held on it (plan.firing_conditions)."""
        rule = self._planned(rule_id)
        if rule is None:
            return []
        try:
            return firing_conditions(rule.plan, event)
        except Exception:
            self._failed(rule)
            return []

    def _planned(self, rule_id: str) -> Any:
        """The compiled rule `rule_id` when this engine holds it with its plan, else None."""
        if self._by_id is None:
            self._by_id = {}
            for compiled in self.rules:
                self._by_id.setdefault(compiled.meta.id, compiled)
        rule = self._by_id.get(rule_id)
        return None if rule is None or rule.plan is None else rule

    def match(self, event: Any) -> list[RuleMeta]:
        return [rule.meta for rule in self.match_rules(event)]

    def match_all_applicable(self, event: Any) -> list[RuleMeta]:
        """The straightforward evaluator: every applicable rule's predicate, no pre-filter."""
        return [rule.meta for rule in self._evaluate(self._route(event).rules, EventContext(event))]
