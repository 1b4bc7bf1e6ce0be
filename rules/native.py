"""One route of the engine in native code (the `canhgac_native` extension, native/src/lib.rs).

The Python engine stays the definition: this module only translates what it already built for a
route — the pre-filter's literal tables (prefilter.py) and each rule's plan (plan.py) — into the
native route's tables, so the two evaluate the same conditions on the same folded values. What
the native side evaluates itself: AND/OR/NOT, plain string values (equals, prefix, suffix,
contains, cased or not), null and exists; every other leaf (regex, wildcard, CIDR, list, field
reference, number, keyword …) is handed over as its Python closure, realized on first use like
the rule cache's deferred predicates. A rule without a plan (built by hand) is one closure.

A route's source is fixed (the engine routes on `canhgac.logsource`), so a `per_source` node
(an aliased field, source_fields.py) is resolved here once, to the branch of the route's service.

The extension is optional at run time: without it, or with CANHGAC_NATIVE_RULES=0, the Python
engine does everything, as before. Tests compare both on every corpus event.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import orjson
from canhgac.rules.context import EventContext, fold
from canhgac.rules.literal_set import utf8
from canhgac.rules.matchers import _RE_FLAGS, string_shape
from canhgac.rules.model import MAX_CLAUSES, CompiledRule
from canhgac.rules.numeric import as_number
from canhgac.rules.plan import Plan, realize, sigma_string
from canhgac.rules.prefilter import RouteIndex
from canhgac.rules.regex_engine import _INLINE, translate
from sigma.types import SpecialChars

try:
    import canhgac_native  # type: ignore[import-untyped,import-not-found,unused-ignore]
except ImportError:  # not built: the Python engine alone
    canhgac_native = None

log = logging.getLogger(__name__)

# Set to 0 to run the Python engine alone (the reference), e.g. to compare the two.
ENV_SWITCH = "CANHGAC_NATIVE_RULES"

Node = tuple[Any, ...]
Hit = tuple[int, int]  # (rule position in the route, clause layer)


def available() -> bool:
    return canhgac_native is not None


def wanted() -> bool:
    """Whether an engine built now should use the native routes."""
    return available() and os.environ.get(ENV_SWITCH, "1") != "0"


class LazyLeaf:
    """A leaf's Python closure, built on its first call: building every regex of a route up front
    would cost its first event what the deferred predicates spare."""

    __slots__ = ("plan", "real")

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.real: Any = None

    def __call__(self, ctx: EventContext) -> bool:
        predicate = self.real
        if predicate is None:
            predicate = self.real = realize(self.plan)
        return bool(predicate(ctx))


def _hits(bits: int, width: int) -> list[Hit]:
    """The (position, layer) of each bit of a prefilter.py clause-bit int."""
    out = []
    while bits:
        low = bits & -bits
        bit = low.bit_length() - 1
        out.append((bit % width, bit // width))
        bits ^= low
    return out


class _Tables:
    """Parent objects and fields of one route, numbered as the native route reads them."""

    def __init__(self) -> None:
        self.parents: dict[tuple[str, ...], int] = {}
        self.fields: dict[str, int] = {}
        self.specs: list[list[Any]] = []

    def field(self, path: str) -> int:
        index = self.fields.get(path)
        if index is None:
            *parent, leaf = path.split(".")
            parent_index = self.parents.setdefault(tuple(parent), len(self.parents))
            index = self.fields[path] = len(self.specs)
            self.specs.append([parent_index, leaf, None, None, None])
        return index


_STAR, _ONE = SpecialChars.WILDCARD_MULTI.value, SpecialChars.WILDCARD_SINGLE.value


def _shape(value: Any, cased: bool) -> tuple[str, Any]:
    """matchers.string_shape of a plan's string value: read straight from plan.string_parts'
    (cased, parts) tuples, the 20,000 values of a big route, without building pySigma objects."""
    if not (type(value) is tuple and len(value) == 2 and type(value[1]) is tuple):
        return string_shape(sigma_string(value), fold_wildcard=not cased)
    parts: list[Any] = []
    for part in value[1]:
        if type(part) is str:
            if parts and type(parts[-1]) is str:
                parts[-1] += part
            else:
                parts.append(part)
        elif part == _STAR:
            if not (parts and parts[-1] == _STAR):
                parts.append(part)
        else:  # `?`: a glob, or anything unexpected: the general reading
            return string_shape(sigma_string(value), fold_wildcard=not cased)
    if not parts:
        return "eq", ""
    if len(parts) == 1:
        return ("eq", parts[0]) if type(parts[0]) is str else ("any", None)
    if len(parts) == 2 and type(parts[1]) is str:
        return "suffix", parts[1]
    if len(parts) == 2 and type(parts[0]) is str:
        return "prefix", parts[0]
    if len(parts) == 3 and type(parts[1]) is str and type(parts[0]) is not str and type(parts[2]) is not str:
        return "contains", parts[1]
    return string_shape(sigma_string(value), fold_wildcard=not cased)


def _strings(args: tuple[Any, ...], plan: Plan, tables: _Tables) -> Node:
    field, values, cased = args
    exact: list[str] = []
    prefixes: list[str] = []
    suffixes: list[str] = []
    contains: list[str] = []
    anything = False
    for value in values:
        kind, payload = _shape(value, cased)
        if kind == "wildcard":
            return ("python", LazyLeaf(plan))  # globs stay in regex_engine.Glob
        if kind == "any":
            anything = True
            continue
        text = payload if cased else fold(payload)
        {"eq": exact, "prefix": prefixes, "suffix": suffixes, "contains": contains}[kind].append(text)
    return ("strings", tables.field(field), bool(cased), anything, exact, prefixes, suffixes, contains)


# RE2's Perl classes and word boundary are ASCII; the native engine's (Rust `regex`) are Unicode.
_ASCII_CLASSES = {
    "d": "[0-9]",
    "D": "[^0-9]",
    "w": "[0-9A-Za-z_]",
    "W": "[^0-9A-Za-z_]",
    "s": "[\\t\\n\\f\\r ]",
    "S": "[^\\t\\n\\f\\r ]",
}
_ASCII_ASSERTIONS = {"b": "(?-u:\\b)", "B": "(?-u:\\B)"}
# Escapes whose meaning differs between the engines or that only one has: left to RE2.
_RE2_ONLY = set("pPQECX0123456789")


def native_regex(pattern: str) -> str | None:
    """The RE2 pattern `pattern` (as regex_engine.LinearRegex compiles it) in the native engine's
    syntax with the same meaning, or None when it uses a construct this translation does not
    vouch for (then RE2 evaluates it). Both engines are linear, search UTF-8 text, fold case by
    Unicode simple folding under (?i) and read `.`, `^`, `$` and the flags i, m, s alike; they
    differ in \\d \\w \\s \\b (ASCII in RE2), rewritten here, and in a few escapes, refused."""
    out: list[str] = []
    i, n, depth = 0, len(pattern), 0  # depth: inside a character class
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt in _RE2_ONLY:
                return None
            if nxt in _ASCII_CLASSES:
                out.append(_ASCII_CLASSES[nxt])
            elif nxt in _ASCII_ASSERTIONS:
                if depth:
                    return None
                out.append(_ASCII_ASSERTIONS[nxt])
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "[" and depth:
            if pattern.startswith("[:", i):  # [[:alpha:]]: ASCII in both
                close = pattern.find(":]", i + 2)
                if close < 0:
                    return None
                out.append(pattern[i : close + 2])
                i = close + 2
            else:  # a member in RE2, a nested class in the native syntax
                out.append("\\[")
                i += 1
            continue
        if c == "[":
            depth = 1
            out.append("[^" if pattern.startswith("[^", i) else "[")
            i += 2 if pattern.startswith("[^", i) else 1
            if i < n and pattern[i] == "]":  # a leading ] is a member
                out.append("\\]")
                i += 1
            continue
        if c == "]" and depth:
            depth = 0
        elif depth and c in "&-~" and pattern.startswith(c * 2, i):
            return None  # Rust reads [a&&b], [a--b], [a~~b] as set operations
        out.append(c)
        i += 1
    return None if depth else "".join(out)


def _regex(args: tuple[Any, ...], plan: Plan, tables: _Tables) -> Node:
    field, value = args
    fallback = LazyLeaf(plan)
    if any(not isinstance(part, str) for part in value.regexp.s):  # a placeholder: RE2's error
        return ("python", fallback)
    flags = 0
    for flag in value.flags:
        flags |= _RE_FLAGS[flag]
    inline = "".join(letter for flag, letter in _INLINE if flags & flag)
    pattern = native_regex(f"(?{inline}){translate(str(value.regexp))}" if inline else translate(str(value.regexp)))
    if pattern is None:
        return ("python", fallback)
    return ("regex", tables.field(field), pattern, fallback)


def node(plan: Plan, service: str | None, tables: _Tables) -> Node:
    kind = plan[0]
    if kind in ("and", "or"):
        return (kind, [node(part, service, tables) for part in plan[1]])
    if kind == "not":
        return ("not", node(plan[1], service, tables))
    if kind == "never":
        return ("never",)
    if kind == "per_source":
        branches: dict[str | None, Plan] = dict(plan[2])
        chosen: Plan = branches.get(service) or plan[1]
        return node(chosen, service, tables)
    if kind == "leaf":
        builder, args = plan[1], plan[2]
        try:
            if builder == "strings":
                return _strings(args, plan, tables)
            if builder == "regex":
                return _regex(args, plan, tables)
            if builder == "fieldref":
                ref = args[1]
                return (
                    "fieldref",
                    tables.field(args[0]),
                    tables.field(ref.field),
                    bool(ref.starts_with),
                    bool(ref.ends_with),
                )
            if builder == "null":
                return ("null", tables.field(args[0]))
            if builder == "exists":
                return ("exists", tables.field(args[0]), bool(args[1].exists))
        except Exception:  # an unresolved placeholder …: the closure raises it when evaluated
            pass
        return ("python", LazyLeaf(plan))
    raise ValueError(f"unknown plan node {kind!r}")


def compile_route(rules: Sequence[CompiledRule], route: RouteIndex, service: str | None) -> Any:
    """The native form of `route` (whose rules route to `service`), or None when the extension
    is missing or cannot hold the route (then the Python engine evaluates it)."""
    if canhgac_native is None or not route.rules:
        return None
    try:
        return _compile(rules, route, service)
    except Exception:
        log.exception("route kept on the Python engine: its native form could not be built")
        return None


def _compile(rules: Sequence[CompiledRule], route: RouteIndex, service: str | None) -> Any:
    width = len(route.rules)
    tables = _Tables()
    for path, fi in route.fields.items():
        spec = tables.specs[tables.field(path)]
        if fi.exact:
            spec[2] = [(text, _hits(bits, width)) for text, bits in fi.exact.items()]
        substrings = (
            [(utf8(t), _hits(b, width)) for t, b in zip(fi.substrings.literals, fi.substring_bits, strict=True)]
            if fi.substrings
            else []
        )
        substrings += [(utf8(char), _hits(bits, width)) for char, bits in fi.chars]
        if substrings:
            spec[3] = substrings
        if fi.numbers:
            spec[4] = [(number, _hits(bits, width)) for number, bits in fi.numbers.items()]
    nodes = []
    for index in route.rules:
        rule = rules[index]
        nodes.append((index, node(rule.plan, service, tables) if rule.plan is not None else ("python", rule.predicate)))
    parents = [list(parts) for parts, _ in sorted(tables.parents.items(), key=lambda item: item[1])]
    return canhgac_native.NativeRoute(
        width,
        MAX_CLAUSES,
        _hits(route.start_bits, width),
        parents,
        [tuple(spec) for spec in tables.specs],
        nodes,
        EventContext,
        as_number,
        orjson.loads,
    )


def parse_json(raw: bytes) -> Any:
    """A normalized event's JSON bytes read natively (native/src/json.rs) for `match_json`, or None
    when the extension is missing or orjson must read them (invalid JSON, a lone surrogate …)."""
    if canhgac_native is None or type(raw) is not bytes:
        return None
    return canhgac_native.JsonEvent.parse(raw)


__all__ = ["ENV_SWITCH", "LazyLeaf", "available", "compile_route", "node", "parse_json", "wanted"]
