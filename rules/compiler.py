"""pySigma condition tree → one predicate per rule, plus the literals the pre-filter may use.

The tree comes from pySigma after the field-mapping pipeline ran, so field names are event paths.
Sibling values of one field under OR are merged into a single matcher (a set lookup and
str.startswith/endswith over tuples) — SigmaHQ rules often list dozens of values per field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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

from canhgac.core.errors import RuleError
from canhgac.rules import matchers
from canhgac.rules.model import Literal, Predicate

Compiled = tuple[Predicate, tuple[Literal, ...] | None]

# Where a field-less (keyword) value is searched: the first of these the event has.
KEYWORD_FIELDS: tuple[str, ...] = ("message", "log.original")


def _never(_ctx: Any) -> bool:
    return False


def _always(_ctx: Any) -> bool:
    return True


def _and(preds: Sequence[Predicate]) -> Predicate:
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds
        return lambda ctx: a(ctx) and b(ctx)
    items = tuple(preds)
    return lambda ctx: all(p(ctx) for p in items)


def _or(preds: Sequence[Predicate]) -> Predicate:
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds
        return lambda ctx: a(ctx) or b(ctx)
    items = tuple(preds)
    return lambda ctx: any(p(ctx) for p in items)


def _selectivity(lits: tuple[Literal, ...]) -> tuple[int, int]:
    # Prefer requirements whose weakest literal is long (rarely present), then fewer literals.
    weakest = min(len(lit.text) + (6 if lit.exact else 0) for lit in lits)
    return weakest, -len(lits)


class Compiler:
    def __init__(self, keyword_fields: Sequence[str] = KEYWORD_FIELDS) -> None:
        self.keyword_fields = tuple(keyword_fields)

    def compile(self, node: Any) -> Compiled:
        if node is None:  # a detection emptied by the pipeline matches nothing
            return _never, None
        if isinstance(node, ConditionAND):
            parts = [self.compile(arg) for arg in node.args]
            reqs = [req for _, req in parts if req]
            best = max(reqs, key=_selectivity) if reqs else None
            return _and([p for p, _ in parts]), best
        if isinstance(node, ConditionOR):
            return self._compile_or(node.args)
        if isinstance(node, ConditionNOT):
            inner, _ = self.compile(node.args[0])
            return (lambda ctx: not inner(ctx)), None
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
            if isinstance(arg, ConditionFieldEqualsValueExpression) and matchers.is_plain_string(arg.value):
                key = (arg.field, isinstance(arg.value, SigmaCasedString))
                groups.setdefault(key, []).append(arg.value)
            else:
                others.append(arg)
        parts: list[Compiled] = [self._strings(f, vs, cased) for (f, cased), vs in groups.items()]
        parts.extend(self.compile(arg) for arg in others)
        lits: list[Literal] = []
        for _, req in parts:
            if req is None:
                lits = []
                break
            lits.extend(req)
        req_all = tuple(dict.fromkeys(lits)) if lits and all(r for _, r in parts) else None
        return _or([p for p, _ in parts]), req_all

    def _strings(self, field: str, values: Sequence[SigmaString], cased: bool) -> Compiled:
        predicate = matchers.strings_predicate(field, values, cased)
        lits: list[Literal] = []
        for value in values:
            req = matchers.string_literals(field, value)
            if req is None:
                return predicate, None
            lits.extend(req)
        return predicate, tuple(dict.fromkeys(lits))

    def _field_value(self, field: str, value: Any) -> Compiled:
        if isinstance(value, SigmaExpansion):
            return self._compile_or([ConditionFieldEqualsValueExpression(field, v) for v in value.values])
        if matchers.is_plain_string(value):
            return self._strings(field, [value], isinstance(value, SigmaCasedString))
        if isinstance(value, SigmaTimestampPart):
            raise RuleError("time-part modifiers are not supported", reason="unsupported modifier")
        if isinstance(value, SigmaNumber):
            return matchers.number_predicate(field, value), None
        if isinstance(value, SigmaBool):
            return matchers.bool_predicate(field, value), None
        if isinstance(value, SigmaNull):
            return matchers.null_predicate(field), None
        if isinstance(value, SigmaExists):
            return matchers.exists_predicate(field, value), None
        if isinstance(value, SigmaRegularExpression):
            return matchers.regex_predicate(field, value)
        if isinstance(value, SigmaCIDRExpression):
            return matchers.cidr_predicate(field, [value]), None
        if isinstance(value, SigmaCompareExpression):
            return matchers.compare_predicate(field, value), None
        if isinstance(value, SigmaFieldReference):
            return matchers.fieldref_predicate(field, value), None
        raise RuleError(f"unsupported value type {type(value).__name__}", reason="unsupported value type")

    def _keyword(self, value: Any) -> Compiled:
        if isinstance(value, SigmaExpansion):
            parts = [self._keyword(v) for v in value.values]
            return _or([p for p, _ in parts]), None
        if matchers.is_plain_string(value):
            return matchers.keyword_predicate(self.keyword_fields, value), None
        if isinstance(value, SigmaNumber):
            text = SigmaString(str(value.number))
            return matchers.keyword_predicate(self.keyword_fields, text), None
        raise RuleError(
            f"keyword of type {type(value).__name__} is not supported", reason="unsupported keyword"
        )


def compile_conditions(compiler: Compiler, trees: Sequence[Any]) -> Compiled:
    """A rule with several `condition:` entries matches when any of them does."""
    if not trees:
        return _never, None
    if len(trees) == 1:
        return compiler.compile(trees[0])
    parts = [compiler.compile(t) for t in trees]
    req = None
    if all(r for _, r in parts):
        req = tuple(dict.fromkeys(lit for _, r in parts for lit in (r or ())))
    return _or([p for p, _ in parts]), req


__all__ = ["KEYWORD_FIELDS", "Compiler", "_always", "compile_conditions"]
