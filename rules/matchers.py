"""One Sigma value against one field: compiled once into a closure over the event context.

Each builder returns the predicate and, when it can, the literals the field must contain for the
predicate to hold (the engine's pre-filter). Literals are case-folded with str.casefold, which works
character by character (unlike str.lower, whose final sigma depends on context), so a literal
present in the text is present in the folded text. A missed literal would drop a true match,
whereas a shorter literal only costs a little speed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from canhgac.core.errors import RuleError
from canhgac.core.watchlists import LISTS, list_placeholder
from canhgac.rules.context import EventContext, fold
from canhgac.rules.model import Literal, Predicate
from canhgac.rules.regex_engine import Glob, compile_regex, glob
from sigma.types import (
    Placeholder,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaType,
    SpecialChars,
)

Compiled = tuple[Predicate, tuple[Literal, ...] | None]

# One character is enough: the pre-filter tests those with `in`, and a rare one (the backtick of
# PowerShell obfuscation) spares evaluating a regex on every command line.
MIN_LITERAL = 1


def substring_literal(field: str, text: str) -> Literal | None:
    """A folded literal for the pre-filter. Folding is per character (str.casefold), so if the
    event text holds `text`, its folded form holds the folded literal."""
    folded = fold(text)
    return Literal(field, folded) if len(folded.encode()) >= MIN_LITERAL else None


def regex_literal(field: str, text: str, ignorecase: bool) -> Literal | None:
    """Under (?i), non-ASCII letters match their simple case variants, which casefold does not
    always map together (and Turkish i's differ between engines): keep only runs free of those."""
    if ignorecase:
        runs = [r for r in re.split(r"[iI]|[^\x00-\x7f]", text) if r]
        text = max(runs, key=len) if runs else ""
    return substring_literal(field, text) if text else None


# --- strings ---------------------------------------------------------------------------------


def string_shape(value: SigmaString, fold_wildcard: bool = False) -> tuple[str, Any]:
    """Classify a Sigma string: ("eq"|"prefix"|"suffix"|"contains", text), ("any", None) or
    ("wildcard", Glob); rejects unresolved placeholders."""
    parts: list[Any] = []
    for part in value.s:
        if isinstance(part, Placeholder):
            if list_placeholder(part.name) is not None:
                raise RuleError(
                    f"list placeholder %{part.name}% must be the whole value", reason="unresolved placeholder"
                )
            raise RuleError(f"placeholder %{part.name}% has no value", reason="unresolved placeholder")
        if part is SpecialChars.WILDCARD_MULTI and parts and parts[-1] is SpecialChars.WILDCARD_MULTI:
            continue
        if isinstance(part, str) and parts and isinstance(parts[-1], str):
            parts[-1] += part
            continue
        parts.append(part)
    star = SpecialChars.WILDCARD_MULTI
    texts = [p for p in parts if isinstance(p, str)]
    if not parts:
        return "eq", ""
    if all(isinstance(p, str) for p in parts):
        return "eq", texts[0]
    if parts == [star]:
        return "any", None
    if len(parts) == 2 and parts[0] is star and isinstance(parts[1], str):
        return "suffix", parts[1]
    if len(parts) == 2 and parts[1] is star and isinstance(parts[0], str):
        return "prefix", parts[0]
    if len(parts) == 3 and parts[0] is star and parts[2] is star and isinstance(parts[1], str):
        return "contains", parts[1]
    if fold_wildcard:
        parts = [fold(p) if isinstance(p, str) else p for p in parts]
    return "wildcard", glob(parts, star, SpecialChars.WILDCARD_SINGLE)


def string_literals(field: str, value: SigmaString) -> tuple[Literal, ...] | None:
    kind, payload = string_shape(value)
    if kind == "eq":
        text = payload
        if text:
            return (Literal(field, fold(text), exact=True),)
        lit = substring_literal(field, text)
        return (lit,) if lit else None
    if kind in ("prefix", "suffix", "contains"):
        lit = substring_literal(field, payload)
        return (lit,) if lit else None
    if kind == "wildcard":
        chunks = [p for p in value.s if isinstance(p, str)]
        best = max((substring_literal(field, c) for c in chunks), key=lambda x: len(x.text) if x else -1, default=None)
        return (best,) if best else None
    return None


def strings_predicate(field: str, values: Sequence[SigmaString], cased: bool) -> Predicate:
    """OR over plain string patterns on one field, grouped by shape so a 200-value list costs
    one set lookup and a few str.startswith/endswith calls."""
    exact: set[str] = set()
    prefixes: list[str] = []
    suffixes: list[str] = []
    contains: list[str] = []
    globs: list[Glob] = []
    anything = False
    for value in values:
        kind, payload = string_shape(value, fold_wildcard=not cased)
        if kind == "any":
            anything = True
            continue
        if kind == "wildcard":
            globs.append(payload)
            continue
        text = payload if cased else fold(payload)
        {"eq": exact.add, "prefix": prefixes.append, "suffix": suffixes.append, "contains": contains.append}[kind](text)
    wildcards = tuple(g.fullmatch for g in globs)
    prefix_t, suffix_t = tuple(prefixes), tuple(suffixes)
    contains_t = tuple(contains)
    getter = EventContext.texts if cased else EventContext.lowers

    def predicate(ctx: EventContext) -> bool:
        for text in getter(ctx, field):
            if anything or text in exact:
                return True
            if prefix_t and text.startswith(prefix_t):
                return True
            if suffix_t and text.endswith(suffix_t):
                return True
            for needle in contains_t:
                if needle in text:
                    return True
            for wildcard in wildcards:
                if wildcard(text):
                    return True
        return False

    if anything and not (exact or prefix_t or suffix_t or contains_t or wildcards):
        return lambda ctx: bool(getter(ctx, field))
    return predicate


def keyword_literals(fields: Sequence[str], value: SigmaString) -> tuple[Literal, ...]:
    chunks = [p for p in value.s if isinstance(p, str)]
    if not chunks:
        return ()
    lits = [substring_literal(f, max(chunks, key=len)) for f in fields]
    return tuple(lit for lit in lits if lit) if all(lits) else ()


def keyword_predicate(fields: Sequence[str], value: SigmaString) -> Predicate:
    """A field-less value: searched as a substring (wildcards honoured) in the event's text."""
    star = SpecialChars.WILDCARD_MULTI
    parts = list(value.s)
    if not parts or parts[0] is not star:
        parts.insert(0, star)
    if parts[-1] is not star:
        parts.append(star)
    wrapped = SigmaString()
    wrapped.s = parts
    cased = isinstance(value, SigmaCasedString)
    inner = [strings_predicate(f, [wrapped], cased) for f in fields]
    first, rest = inner[0], inner[1:]

    def predicate(ctx: EventContext) -> bool:
        # message when the event has one, else the raw record: the first text field present wins
        for f, pred in zip(fields, [first, *rest], strict=True):
            if f == "log.original" and "winlog" in ctx.event:
                # A Windows event's raw record is JSON or XML, not the text a keyword is written
                # against; only its rendered message is searched.
                return False
            if ctx.present(f):
                return pred(ctx)
        return False

    return predicate


# --- other value types -----------------------------------------------------------------------


@lru_cache(maxsize=65536)
def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        return None


def cidr_predicate(field: str, networks: Sequence[SigmaCIDRExpression]) -> Predicate:
    nets = tuple(n.network for n in networks)

    def predicate(ctx: EventContext) -> bool:
        for text in ctx.texts(field):
            if len(text) > 64:
                continue
            ip = _parse_ip(text)
            if ip is None:
                continue
            if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            for net in nets:
                if ip.version == net.version and ip in net:
                    return True
        return False

    return predicate


_RE_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}


def regex_predicate(field: str, value: SigmaRegularExpression) -> Compiled:
    for part in value.regexp.s:
        if isinstance(part, Placeholder):
            raise RuleError(f"placeholder %{part.name}% has no value", reason="unresolved placeholder")
    source = str(value.regexp)
    flags = 0
    for flag in value.flags:
        flags |= _RE_FLAGS[flag]
    search = compile_regex(source, flags).search  # RE2: linear in the text (regex_engine.py)

    def predicate(ctx: EventContext) -> bool:
        for text in ctx.texts(field):
            if search(text):
                return True
        return False

    from canhgac.rules.regex_literals import required_literal

    lit = required_literal(source, flags)
    # inline flags ("(?i)", "(?i:…)") may switch case-insensitivity on anywhere: assume they do
    ignorecase = bool(flags & re.IGNORECASE) or "(?" in source
    literal = regex_literal(field, lit, ignorecase) if lit else None
    return predicate, ((literal,) if literal else None)


def null_predicate(field: str) -> Predicate:
    return lambda ctx: ctx.values(field) is None


def exists_predicate(field: str, value: SigmaExists) -> Predicate:
    wanted = value.exists
    return lambda ctx: ctx.present(field) is wanted


def fieldref_predicate(field: str, ref: SigmaFieldReference) -> Predicate:
    other = ref.field
    starts, ends = ref.starts_with, ref.ends_with

    def predicate(ctx: EventContext) -> bool:
        mine = ctx.lowers(field)
        if not mine:
            return False
        theirs = ctx.lowers(other)
        if not (starts or ends):
            return any(a in theirs for a in mine) if len(mine) > 1 else mine[0] in theirs
        for a in mine:
            for b in theirs:
                if starts and ends:
                    hit = b in a
                elif starts:
                    hit = a.startswith(b)
                else:
                    hit = a.endswith(b)
                if hit:
                    return True
        return False

    return predicate


def is_plain_string(value: SigmaType) -> bool:
    return type(value) in (SigmaString, SigmaCasedString)


def list_reference(value: Any) -> str | None:
    """The live list a value names (`field|expand: '%list:name%'`, the whole value), else None."""
    if type(value) not in (SigmaString, SigmaCasedString) or len(value.s) != 1:
        return None
    part = value.s[0]
    return list_placeholder(part.name) if isinstance(part, Placeholder) else None


def list_predicate(field: str, name: str) -> Predicate:
    """The field holds a value of the live list `name` (core/watchlists.py), looked up per event:
    an edit to the list applies without recompiling the rule."""

    def predicate(ctx: EventContext) -> bool:
        found = LISTS.get(name)
        for text in ctx.texts(field):
            if found.contains(text):
                return True
        return False

    return predicate


__all__ = [
    "SigmaExpansion",
    "SigmaNull",
    "cidr_predicate",
    "exists_predicate",
    "fieldref_predicate",
    "is_plain_string",
    "keyword_predicate",
    "list_predicate",
    "list_reference",
    "null_predicate",
    "regex_predicate",
    "string_literals",
    "strings_predicate",
]
