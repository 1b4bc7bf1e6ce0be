"""Load-time guard against catastrophic backtracking.

Python's `re` has no time limit, so a pattern that can backtrack exponentially would stall the
detector on one crafted event. We reject, at load time, any pattern with an unbounded quantifier
nested inside another unbounded quantifier (`(a+)+`, `(?:.*x){1,}` …), the shape behind
exponential and high-polynomial blow-ups. Bounded repeats (`{0,5}`) are allowed.
"""

from __future__ import annotations

import re._parser as sre_parse  # the parser behind `re`, stable across 3.11 patch releases
from re._constants import MAXREPEAT
from typing import Any

from canhgac.core.errors import RuleError

# A repeat larger than this is treated as unbounded: {1,10000} backtracks like +.
_UNBOUNDED_FROM = 100


def _nested_unbounded(tree: Any, inside: bool) -> bool:
    for op, av in tree:
        if op in (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, getattr(sre_parse, "POSSESSIVE_REPEAT", None)):
            _low, high, sub = av
            unbounded = high == MAXREPEAT or high > _UNBOUNDED_FROM
            if unbounded and inside:
                return True
            if _nested_unbounded(sub, inside or unbounded):
                return True
        elif op == sre_parse.SUBPATTERN:
            if _nested_unbounded(av[3], inside):
                return True
        elif op == sre_parse.BRANCH:
            if any(_nested_unbounded(branch, inside) for branch in av[1]):
                return True
        elif op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT):
            if _nested_unbounded(av[1], inside):
                return True
    return False


def check_regex(source: str, flags: int = 0) -> None:
    try:
        tree = sre_parse.parse(source, flags)
    except Exception as exc:  # the parser raises re.error and, on odd input, others
        raise RuleError(f"invalid regular expression {source!r}: {exc}", reason="invalid regex") from exc
    if _nested_unbounded(tree, False):
        raise RuleError(
            f"regular expression {source!r} nests unbounded quantifiers (catastrophic backtracking)",
            reason="unsafe regex",
        )
