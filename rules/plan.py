"""A compiled rule's matcher as data, and the one function that turns it into a predicate.

The compiler (compiler.py) decides *what* to evaluate — the condition tree, field mapping and
per-source aliases already applied — and writes it down as a plan: nested tuples whose leaves
name a builder of matchers.py / numeric.py and hold its arguments (pySigma values). `realize`
builds the closures. Keeping the two apart is what lets the compiled-rule cache (rule_cache.py)
store a rule without its closures: a cold load and a cache hit both go through `realize`, so they
evaluate the same code by construction.

Plan nodes:
    ("never",) | ("and", (plan, …)) | ("or", (plan, …)) | ("not", plan)
    ("leaf", builder name, (argument, …))
    ("per_source", default plan, ((service, plan), …))

Plain strings, by far the most numerous values (50,000 in the SigmaHQ corpus), are written as
tuples of their parts (text, or the number of a wildcard) rather than pySigma objects: a stored
plan then reads back in a fraction of the time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from canhgac.rules import matchers, numeric
from canhgac.rules.context import EventContext, lookup
from canhgac.rules.model import Predicate
from sigma.types import SigmaCasedString, SigmaString, SpecialChars

Plan = tuple[Any, ...]

NEVER: Plan = ("never",)

_SPECIALS = {special.value: special for special in SpecialChars}


def string_parts(value: SigmaString) -> Any:
    """A plain Sigma string as (cased, parts), parts being text or a SpecialChars value; any other
    part (an unresolved placeholder) keeps the value as it is."""
    parts = tuple(p if isinstance(p, str) else p.value if isinstance(p, SpecialChars) else None for p in value.s)
    if None in parts:
        return value
    return (isinstance(value, SigmaCasedString), parts)


def sigma_string(encoded: Any) -> SigmaString:
    """The Sigma string `string_parts` wrote (matchers read only `.s` and the class)."""
    if isinstance(encoded, SigmaString):
        return encoded
    cased, parts = encoded
    value = SigmaCasedString() if cased else SigmaString()
    value.s = [p if isinstance(p, str) else _SPECIALS[p] for p in parts]
    value.original = ""  # not read by the matchers; the parts are the value
    return value


def _strings(field: str, values: tuple[Any, ...], cased: bool) -> Predicate:
    return matchers.strings_predicate(field, [sigma_string(v) for v in values], cased)


def _keyword(fields: tuple[str, ...], value: Any) -> Predicate:
    return matchers.keyword_predicate(fields, sigma_string(value))


def _regex(field: str, value: Any) -> Predicate:
    return matchers.regex_predicate(field, value)[0]


# Builder name -> the function that builds that leaf's closure. A plan names builders, never
# functions, so a stored plan stays data.
LEAVES: dict[str, Callable[..., Predicate]] = {
    "strings": _strings,
    "keyword": _keyword,
    "regex": _regex,
    "cidr": matchers.cidr_predicate,
    "list": matchers.list_predicate,
    "null": matchers.null_predicate,
    "exists": matchers.exists_predicate,
    "fieldref": matchers.fieldref_predicate,
    "number": numeric.number_predicate,
    "bool": numeric.bool_predicate,
    "compare": numeric.compare_predicate,
}


def leaf(builder: str, *args: Any) -> Plan:
    if builder not in LEAVES:
        raise KeyError(f"no leaf builder {builder!r}")
    return ("leaf", builder, args)


def all_of(plans: Sequence[Plan]) -> Plan:
    return plans[0] if len(plans) == 1 else ("and", tuple(plans))


def any_of(plans: Sequence[Plan]) -> Plan:
    return plans[0] if len(plans) == 1 else ("or", tuple(plans))


def negation(plan: Plan) -> Plan:
    return ("not", plan)


def per_source(default: Plan, by_service: Sequence[tuple[str, Plan]]) -> Plan:
    return ("per_source", default, tuple(by_service))


def _never(_ctx: Any) -> bool:
    return False


def _and(preds: Sequence[Predicate]) -> Predicate:
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds
        return lambda ctx: a(ctx) and b(ctx)
    items = tuple(preds)

    def every(ctx: Any) -> bool:  # a plain loop: all() over a generator costs twice as much
        for p in items:
            if not p(ctx):
                return False
        return True

    return every


def _or(preds: Sequence[Predicate]) -> Predicate:
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds
        return lambda ctx: a(ctx) or b(ctx)
    items = tuple(preds)

    def some(ctx: Any) -> bool:
        for p in items:
            if p(ctx):
                return True
        return False

    return some


def event_service(ctx: Any) -> str | None:
    """The event's `canhgac.logsource.service`, lower-cased (the engine routes on the same key)."""
    ours = ctx.event.get("canhgac")
    ls = ours.get("logsource") if isinstance(ours, dict) else None
    service = ls.get("service") if isinstance(ls, dict) else None
    return service.lower() if isinstance(service, str) and service else None


def realize(plan: Plan) -> Predicate:
    """The predicate a plan describes; raises whatever its builders raise (RuleError, …)."""
    kind = plan[0]
    if kind == "leaf":
        return LEAVES[plan[1]](*plan[2])
    if kind == "and":
        return _and([realize(p) for p in plan[1]])
    if kind == "or":
        return _or([realize(p) for p in plan[1]])
    if kind == "not":
        inner = realize(plan[1])
        return lambda ctx: not inner(ctx)
    if kind == "per_source":
        # One condition on an aliased field, built once per name; each event reads the name its
        # source uses (source_fields.py), so null, exists and negation hold on that one name.
        default = realize(plan[1])
        table: dict[str | None, Predicate] = {service: realize(p) for service, p in plan[2]}

        def dispatch(ctx: Any) -> bool:
            return table.get(event_service(ctx), default)(ctx)

        return dispatch
    if kind == "never":
        return _never
    raise ValueError(f"unknown plan node {kind!r}")


def firing_fields(plan: Plan, event: dict[str, Any]) -> list[str]:
    """The event's fields whose conditions hold in a rule's plan: what made the rule fire, shown
    highlighted with its alert. Each leaf is evaluated on its own; a leaf under `not` and a field
    the event lacks (a `null` condition) name nothing. Run once per new alert, not per event."""
    ctx = EventContext(event)
    found: dict[str, None] = {}
    _collect(plan, ctx, found)
    return list(found)


def _collect(plan: Plan, ctx: EventContext, found: dict[str, None]) -> None:
    kind = plan[0]
    if kind in ("and", "or"):
        for part in plan[1]:
            _collect(part, ctx, found)
    elif kind == "per_source":
        table: dict[str | None, Plan] = dict(plan[2])
        chosen: Plan = table.get(event_service(ctx)) or plan[1]
        _collect(chosen, ctx, found)
    elif kind == "leaf" and realize(plan)(ctx):
        # A keyword (field-less) value is searched in the first keyword field the event has.
        fields = plan[2][0] if plan[1] == "keyword" else (plan[2][0],)
        present = [f for f in fields if lookup(ctx.event, f) is not None]
        for name in present[:1] if plan[1] == "keyword" else present:
            found[name] = None


# A condition shown next to its field is cut to this many characters; at most this many are kept.
CONDITION_MAX_CHARS = 160
CONDITIONS_MAX = 20


def firing_conditions(plan: Plan, event: dict[str, Any]) -> list[dict[str, str]]:
    """What `firing_fields` names, each with the condition that held on it in the rule's own words
    (`CommandLine|contains: "-enc"`; of a list of values, the first that holds on its own): the
    first per field, at most CONDITIONS_MAX, each at most CONDITION_MAX_CHARS long."""
    ctx = EventContext(event)
    found: dict[str, str] = {}
    _collect_conditions(plan, ctx, found)
    return [{"field": f, "condition": c} for f, c in list(found.items())[:CONDITIONS_MAX]]


def _collect_conditions(plan: Plan, ctx: EventContext, found: dict[str, str]) -> None:
    kind = plan[0]
    if kind in ("and", "or"):
        for part in plan[1]:
            _collect_conditions(part, ctx, found)
    elif kind == "per_source":
        table: dict[str | None, Plan] = dict(plan[2])
        _collect_conditions(table.get(event_service(ctx)) or plan[1], ctx, found)
    elif kind == "leaf" and plan[1] != "null" and realize(plan)(ctx):
        builder, args = plan[1], plan[2]
        if builder == "keyword":
            present = [f for f in args[0] if lookup(ctx.event, f) is not None][:1]
        else:
            present = [args[0]] if lookup(ctx.event, args[0]) is not None else []
        for name in present:
            if name not in found:
                text = _condition_text(builder, args, name, ctx)
                found[name] = text if len(text) <= CONDITION_MAX_CHARS else text[: CONDITION_MAX_CHARS - 1] + "…"


def _plain(encoded: Any) -> tuple[str, str]:
    """(modifier, text) of a plain Sigma string: *x* is contains, x* startswith, *x endswith."""
    value = sigma_string(encoded)
    parts = list(value.s)
    wild = SpecialChars.WILDCARD_MULTI
    mod = ""
    if len(parts) > 1 and parts[0] == wild and parts[-1] == wild:
        mod, parts = "contains", parts[1:-1]
    elif len(parts) > 1 and parts[-1] == wild:
        mod, parts = "startswith", parts[:-1]
    elif len(parts) > 1 and parts[0] == wild:
        mod, parts = "endswith", parts[1:]
    text = "".join(p if isinstance(p, str) else "*" if p == wild else "?" for p in parts)
    if isinstance(value, SigmaCasedString):
        mod = f"{mod}|cased" if mod else "cased"
    return mod, text


def _condition_text(builder: str, args: tuple[Any, ...], field: str, ctx: EventContext) -> str:
    if builder == "strings":
        values = args[1]
        held = next((v for v in values if len(values) == 1 or _strings(field, (v,), args[2])(ctx)), values[0])
        mod, text = _plain(held)
        return f'{field}{"|" + mod if mod else ""}: "{text}"'
    if builder == "keyword":
        mod, text = _plain(args[1])
        return f'keyword: "{text}"'
    if builder == "regex":
        return f'{field}|re: "{args[1].regexp}"'
    if builder == "cidr":
        return f"{field}|cidr: " + ", ".join(str(n.network) for n in args[1][:3])
    if builder == "list":
        return f"{field}|expand: %list:{args[1]}%"
    if builder == "exists":
        return f"{field}|exists: {str(args[1].exists).lower()}"
    if builder == "fieldref":
        return f"{field}|fieldref: {args[1].field}"
    if builder == "number":
        return f"{field}: {args[1].number}"
    if builder == "bool":
        return f"{field}: {str(args[1].boolean).lower()}"
    if builder == "compare":
        return f"{field}|{args[1].op.name.lower()}: {args[1].number.number}"
    return field


__all__ = [
    "CONDITIONS_MAX",
    "CONDITION_MAX_CHARS",
    "LEAVES",
    "NEVER",
    "Plan",
    "all_of",
    "any_of",
    "event_service",
    "firing_conditions",
    "firing_fields",
    "leaf",
    "negation",
    "per_source",
    "realize",
    "sigma_string",
    "string_parts",
]
