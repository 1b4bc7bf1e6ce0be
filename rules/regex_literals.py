"""The longest literal text every match of a regular expression must contain.

Only top-level, mandatory literal runs count (not inside alternations, optional groups or classes),
so the result is a necessary condition: if the literal is absent, the regex cannot match.
"""

from __future__ import annotations

import re
import re._parser as sre_parse
from typing import Any


def _runs(tree: Any, flags: int) -> list[str]:
    runs: list[str] = []
    current: list[str] = []

    def cut() -> None:
        if current:
            runs.append("".join(current))
            current.clear()

    for op, av in tree:
        if op == sre_parse.LITERAL:
            current.append(chr(av))
        elif op == sre_parse.SUBPATTERN and not (av[1] & ~flags & (re.IGNORECASE | re.VERBOSE)):
            # a plain group: its own mandatory runs are mandatory here too, but they do not join ours
            cut()
            runs.extend(_runs(av[3], flags))
        elif op == sre_parse.MAX_REPEAT or op == sre_parse.MIN_REPEAT:
            low, _high, sub = av
            cut()
            if low >= 1:
                runs.extend(_runs(sub, flags))
        elif op == sre_parse.AT:
            continue  # anchors take no text
        else:
            cut()
    cut()
    return runs


def required_literal(source: str, flags: int = 0) -> str:
    try:
        tree = sre_parse.parse(source, flags)
    except Exception:
        return ""
    if tree.state.flags & re.VERBOSE:
        return ""
    runs = _runs(tree, tree.state.flags)
    return max(runs, key=len) if runs else ""
