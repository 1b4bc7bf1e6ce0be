"""Numeric and boolean Sigma values against one field, and the pre-filter's form of a number.

A value is a number when it is an int or float (not a bool) or a short string Python reads as one
(`16`, ` 16 `, `0x10`, `1e3`): `as_number` is the one definition, shared by the matchers and the
engine's pre-filter so the two can never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from canhgac.rules.context import EventContext
from canhgac.rules.model import Literal, Predicate
from sigma.types import CompareOperators, SigmaBool, SigmaCompareExpression, SigmaNumber


def as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        # an int past float range is beyond any bound a rule can write, not an error
        return float(value) if -(2**1023) < value < 2**1023 else math.inf if value > 0 else -math.inf
    if isinstance(value, str) and len(value) < 64:
        text = value.strip()
        try:
            return float(int(text, 0)) if text[:2].lower() in ("0x", "0o", "0b") else float(text)
        except ValueError:
            return None
    return None


def number_predicate(field: str, number: SigmaNumber) -> Predicate:
    wanted = float(number.number)
    as_text = str(number.number).lower()

    def predicate(ctx: EventContext) -> bool:
        for v in ctx.values(field) or ():
            n = as_number(v)
            if n is not None and n == wanted:
                return True
            if isinstance(v, str) and v.lower() == as_text:
                return True
        return False

    return predicate


def number_literal(field: str, number: SigmaNumber) -> Literal | None:
    """The pre-filter's form of number_predicate: a value matches it by as_number(value) == wanted
    or by its text equalling the number's; keyed by the number only when the text match implies
    the numeric one (not for NaN, nor texts as_number does not read)."""
    wanted = float(number.number)
    as_text = str(number.number).lower()
    if as_number(as_text) != wanted:
        return None
    return Literal(field, as_text, number=wanted)


_COMPARE: dict[CompareOperators, Callable[[float, float], bool]] = {
    CompareOperators.LT: lambda a, b: a < b,
    CompareOperators.LTE: lambda a, b: a <= b,
    CompareOperators.GT: lambda a, b: a > b,
    CompareOperators.GTE: lambda a, b: a >= b,
    CompareOperators.NEQ: lambda a, b: a != b,
}


def compare_predicate(field: str, expr: SigmaCompareExpression) -> Predicate:
    op = _COMPARE[expr.op]
    bound = float(expr.number.number)

    def predicate(ctx: EventContext) -> bool:
        for v in ctx.values(field) or ():
            n = as_number(v)
            if n is not None and op(n, bound):
                return True
        return False

    return predicate


def bool_predicate(field: str, value: SigmaBool) -> Predicate:
    wanted = value.boolean
    text = "true" if wanted else "false"

    def predicate(ctx: EventContext) -> bool:
        for v in ctx.values(field) or ():
            if v is wanted or (isinstance(v, str) and v.strip().lower() == text):
                return True
        return False

    return predicate


__all__ = ["as_number", "bool_predicate", "compare_predicate", "number_literal", "number_predicate"]
