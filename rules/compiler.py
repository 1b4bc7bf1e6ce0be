"""pySigma condition tree → one plan per rule (plan.py), plus the literals the pre-filter may use.

The tree comes from pySigma after the field-mapping pipeline ran, so field names are event paths.
Sibling values of one field under OR are merged into a single matcher (a set lookup and
str.startswith/endswith over tuples) — SigmaHQ rules often list dozens of values per field.
The plan is data; `plan.realize` builds the predicate (the loader does, and so does a cache hit).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from canhgac.core.errors import RuleError
from canhgac.rules import matchers, numeric, plan
from canhgac.rules.model import MAX_CLAUSES, Literal
from canhgac.rules.plan import NEVER, Plan, event_service
from canhgac.rules.source_fields import SourceAliases
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SigmaTimestampPart,
)

# A requirement is a conjunction of clauses, each clause a disjunction of literals: the rule can
# only match an event in which every clause has at least one literal present. () = no requirement.
Clause = tuple[Literal, ...]
Requirement = tuple[Clause, ...]
Compiled = tuple[Plan, Requirement]

# Where a field-less (keyword) value is searched: the first of these the event has.
KEYWORD_FIELDS: tuple[str, ...] = ("message", "log.original")


def _strength(lit: Literal) -> int:
    if lit.number is not None:
        return 4  # EventID and the like: the route already narrowed them to a few values
    return len(lit.text) + (6 if lit.exact else 0)


def strength(clause: Clause) -> int:
    """How rarely a clause holds, roughly: the length of its weakest literal."""
    return min(map(_strength, clause))


def _selectivity(clause: Clause) -> tuple[int, int]:
    # Prefer clauses whose weakest literal is long (rarely present), then fewer literals.
    return strength(clause), -len(clause)


def _clause(lits: list[Literal] | tuple[Literal, ...]) -> Requirement:
    return (tuple(dict.fromkeys(lits)),) if lits else ()


def conjunction(reqs: list[Requirement]) -> Requirement:
    clauses = dict.fromkeys(c for req in reqs for c in req)
    return tuple(sorted(clauses, key=_selectivity, reverse=True)[:MAX_CLAUSES])


def disjunction(reqs: list[Requirement]) -> Requirement:
    """(A∧B)∨(C∧D) needs A∨C at least: one clause from each side, merged."""
    if not reqs or any(not r for r in reqs):
        return ()
    return _clause([lit for req in reqs for lit in max(req, key=_selectivity)])


def per_source(field: str, alias: Mapping[str, str], build: Callable[[str], Compiled]) -> Compiled:
    """One condition on an aliased field: built once per name, and each event reads the name its
    source uses (source_fields.py), so null, exists and negation hold on that one name."""
    default_plan, default_req = build(field)
    by_service = {service: build(path) for service, path in alias.items()}
    return (
        plan.per_source(default_plan, [(service, p) for service, (p, _) in by_service.items()]),
        disjunction([default_req, *(req for _, req in by_service.values())]),
    )


class Compiler:
    def __init__(self, keyword_fields: Sequence[str] = KEYWORD_FIELDS, aliases: SourceAliases | None = None) -> None:
        self.keyword_fields = tuple(keyword_fields)
        # Event path → {service: the path that service's events use instead} (source_fields.py).
        self.aliases: SourceAliases = aliases or {}

    def for_source(self, aliases: SourceAliases) -> Compiler:
        """This compiler for one rule whose logsource has aliased fields."""
        return Compiler(self.keyword_fields, aliases) if aliases or self.aliases else self

    def compile(self, node: Any) -> Compiled:
        if node is None:  # a detection emptied by the pipeline matches nothing
            return NEVER, ()
        if isinstance(node, ConditionAND):
            parts = [self.compile(arg) for arg in node.args]
            return plan.all_of([p for p, _ in parts]), conjunction([r for _, r in parts])
        if isinstance(node, ConditionOR):
            return self._compile_or(node.args)
        if isinstance(node, ConditionNOT):
            inner, _ = self.compile(node.args[0])
            return plan.negation(inner), ()
        if isinstance(node, ConditionFieldEqualsValueExpression):
            return self._field_value(node.field, node.value)
        if isinstance(node, ConditionValueExpression):
            return self._keyword(node.value)
        raise RuleError(f"unsupported condition element {type(node).__name__}", reason="unsupported condition")

    def _compile_or(self, args: Sequence[Any]) -> Compiled:
        # Gather plain strings per (field, cased) so they become one matcher.
        groups: dict[tuple[str, bool], list[SigmaString]] = {}
        others: list[Any] = []
        for arg in args:
            if (
                isinstance(arg, ConditionFieldEqualsValueExpression)
                and matchers.is_plain_string(arg.value)
                and matchers.list_reference(arg.value) is None
            ):
                key = (arg.field, isinstance(arg.value, SigmaCasedString))
                groups.setdefault(key, []).append(cast(SigmaString, arg.value))
            else:
                others.append(arg)
        parts: list[Compiled] = [self._strings(f, vs, cased) for (f, cased), vs in groups.items()]
        parts.extend(self.compile(arg) for arg in others)
        return plan.any_of([p for p, _ in parts]), disjunction([r for _, r in parts])

    def _strings(self, field: str, values: Sequence[SigmaString], cased: bool) -> Compiled:
        alias = self.aliases.get(field)
        if alias is not None:
            return per_source(field, alias, lambda path: self._strings_at(path, values, cased))
        return self._strings_at(field, values, cased)

    def _strings_at(self, field: str, values: Sequence[SigmaString], cased: bool) -> Compiled:
        strings = plan.leaf("strings", field, tuple(map(plan.string_parts, values)), cased)
        lits: list[Literal] = []
        for value in values:
            req = matchers.string_literals(field, value)
            if req is None:
                return strings, ()
            lits.extend(req)
        return strings, _clause(lits)

    def _field_value(self, field: str, value: Any) -> Compiled:
        alias = self.aliases.get(field)
        if alias is not None and not isinstance(value, SigmaExpansion):  # expansions dispatch per part
            return per_source(field, alias, lambda path: self._field_value_at(path, value))
        return self._field_value_at(field, value)

    def _field_value_at(self, field: str, value: Any) -> Compiled:
        if isinstance(value, SigmaExpansion):
            return self._compile_or([ConditionFieldEqualsValueExpression(field, v) for v in value.values])
        if (list_name := matchers.list_reference(value)) is not None:
            return plan.leaf("list", field, list_name), ()  # looked up per event: no pre-filter literal
        if matchers.is_plain_string(value):
            return self._strings(field, [value], isinstance(value, SigmaCasedString))
        if isinstance(value, SigmaTimestampPart):
            raise RuleError("time-part modifiers are not supported", reason="unsupported modifier")
        if isinstance(value, SigmaNumber):
            lit = numeric.number_literal(field, value)
            return plan.leaf("number", field, value), _clause([lit] if lit else [])
        if isinstance(value, SigmaBool):
            return plan.leaf("bool", field, value), ()
        if isinstance(value, SigmaNull):
            return plan.leaf("null", field), ()
        if isinstance(value, SigmaExists):
            return plan.leaf("exists", field, value), ()
        if isinstance(value, SigmaRegularExpression):
            # built here for its literals and its errors (an invalid regex rejects the rule now)
            _, lits = matchers.regex_predicate(field, value)
            return plan.leaf("regex", field, value), _clause(lits or ())
        if isinstance(value, SigmaCIDRExpression):
            return plan.leaf("cidr", field, (value,)), ()
        if isinstance(value, SigmaCompareExpression):
            return plan.leaf("compare", field, value), ()
        if isinstance(value, SigmaFieldReference):
            return plan.leaf("fieldref", field, value), ()
        raise RuleError(f"unsupported value type {type(value).__name__}", reason="unsupported value type")

    def _keyword(self, value: Any) -> Compiled:
        if isinstance(value, SigmaExpansion):
            parts = [self._keyword(v) for v in value.values]
            return plan.any_of([p for p, _ in parts]), disjunction([r for _, r in parts])
        if matchers.is_plain_string(value):
            lits = matchers.keyword_literals(self.keyword_fields, value)
            return plan.leaf("keyword", self.keyword_fields, plan.string_parts(value)), _clause(lits)
        if isinstance(value, SigmaNumber):
            text = SigmaString(str(value.number))
            lits = matchers.keyword_literals(self.keyword_fields, text)
            return plan.leaf("keyword", self.keyword_fields, plan.string_parts(text)), _clause(lits)
        raise RuleError(f"keyword of type {type(value).__name__} is not supported", reason="unsupported keyword")


def compile_conditions(compiler: Compiler, trees: Sequence[Any]) -> Compiled:
    """A rule with several `condition:` entries matches when any of them does."""
    if not trees:
        return NEVER, ()
    if len(trees) == 1:
        return compiler.compile(trees[0])
    parts = [compiler.compile(t) for t in trees]
    return plan.any_of([p for p, _ in parts]), disjunction([r for _, r in parts])


__all__ = ["KEYWORD_FIELDS", "Compiler", "compile_conditions", "event_service", "per_source", "strength"]
