"""Compile pySigma correlation rules into the plain, typed specs the stream evaluator runs.

Everything that can be decided once per rule is decided here (which references are base rules and
which are other correlations, what each group-by name means for each referenced rule, whether the
condition can fire as soon as it is met), so the per-event path only does lookups.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from uuid import UUID

import orjson
from canhgac.core.errors import RuleError
from canhgac.core.ids import derived_id
from sigma.correlations import (
    CorrelationConditionAND,
    CorrelationConditionItem,
    CorrelationConditionNOT,
    CorrelationConditionOR,
    SigmaCorrelationCondition,
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
    SigmaExtendedCorrelationCondition,
    SigmaRuleReference,
)

EVENT_COUNT = "event_count"
VALUE_COUNT = "value_count"
TEMPORAL = "temporal"
TEMPORAL_ORDERED = "temporal_ordered"
# Sigma 2.1 metric types: an aggregate of one numeric field over the window's matches.
VALUE_SUM = "value_sum"
VALUE_AVG = "value_avg"
VALUE_PERCENTILE = "value_percentile"
VALUE_MEDIAN = "value_median"
METRIC_TYPES = frozenset({VALUE_SUM, VALUE_AVG, VALUE_PERCENTILE, VALUE_MEDIAN})

_SUPPORTED_TYPES = {
    SigmaCorrelationType.EVENT_COUNT: EVENT_COUNT,
    SigmaCorrelationType.VALUE_COUNT: VALUE_COUNT,
    SigmaCorrelationType.TEMPORAL: TEMPORAL,
    SigmaCorrelationType.TEMPORAL_ORDERED: TEMPORAL_ORDERED,
    SigmaCorrelationType.VALUE_SUM: VALUE_SUM,
    SigmaCorrelationType.VALUE_AVG: VALUE_AVG,
    SigmaCorrelationType.VALUE_PERCENTILE: VALUE_PERCENTILE,
    SigmaCorrelationType.VALUE_MEDIAN: VALUE_MEDIAN,
}

# Only growing conditions can be decided before a window is over: more events never make
# `gte 5` false again, but they can make `lt 5` or `eq 5` false, so those wait for the window's end.
_GROWING_OPS = {SigmaCorrelationConditionOperator.GT, SigmaCorrelationConditionOperator.GTE}
_COMPARE: dict[SigmaCorrelationConditionOperator, Callable[[float, float], bool]] = {
    SigmaCorrelationConditionOperator.GT: operator.gt,
    SigmaCorrelationConditionOperator.GTE: operator.ge,
    SigmaCorrelationConditionOperator.LT: operator.lt,
    SigmaCorrelationConditionOperator.LTE: operator.le,
    SigmaCorrelationConditionOperator.EQ: operator.eq,
    SigmaCorrelationConditionOperator.NEQ: operator.ne,
}

# A set of rule positions (for temporal) or of distinct values, and the count the condition compares.
Predicate = Callable[[float, "set[object] | dict[object, None]"], bool]


def id_key(rule_id: object) -> str:
    return f"id:{str(rule_id).lower()}"


def name_key(name: str) -> str:
    return f"name:{name}"


def keys_of(rule_id: object, name: str | None) -> list[str]:
    """Lookup keys of a rule: its id and its `name:`, since Sigma references may use either."""
    keys = [id_key(rule_id)] if rule_id is not None else []
    if name:
        keys.append(name_key(name))
    return keys


@dataclass(frozen=True, slots=True)
class Condition:
    eager: bool  # decided as soon as it holds; otherwise evaluated when the window closes
    holds: Predicate
    text: str  # for messages and docs


@dataclass(frozen=True, slots=True)
class CorrelationSpec:
    key: str  # "id:<uuid>" or "name:<name>": names the rule's state in checkpoints
    lookup_keys: tuple[str, ...]  # every key a reference to this rule may use
    rule_id: str
    name: str | None
    title: str
    level: str | None
    author: str | None
    tags: tuple[str, ...]
    references: tuple[str, ...]
    description: str | None
    type: str
    timespan_us: int
    group_by: tuple[str, ...]
    # per referenced rule (position), the event field each group-by name resolves to
    group_fields: tuple[tuple[str, ...], ...]
    # value_count: several fields count distinct combinations; the metric types: the one numeric field
    value_field: tuple[str, ...]
    condition: Condition
    generate: bool
    cross_agency: bool  # `canhgac: {cross_agency: true}`: groups span agencies, alerts belong to the SOC
    # per position: lookup keys of the referenced rule, and whether it is another correlation
    targets: tuple[tuple[str, ...], ...]
    target_is_correlation: tuple[bool, ...]
    fingerprint: str  # changes when the semantics change, so a checkpoint is not misapplied
    percentile: int | None = None  # value_percentile: which percentile (1-99) the condition compares


def _where(rule: SigmaCorrelationRule) -> str | None:
    return str(rule.source) if rule.source is not None else None


def _reject(rule: SigmaCorrelationRule, message: str, reason: str) -> RuleError:
    return RuleError(f"correlation rule {rule.title!r}: {message}", reason=reason, where=_where(rule))


def _reference_keys(ref: SigmaRuleReference) -> list[str]:
    target = getattr(ref, "rule", None)  # set only when a SigmaCollection resolved the reference
    if target is not None:
        keys = keys_of(target.id, target.name)
        if keys:
            return keys
    try:
        return [id_key(UUID(ref.reference))]
    except ValueError:
        return [name_key(ref.reference)]


def _references(rule: SigmaCorrelationRule) -> list[SigmaRuleReference]:
    if rule.rules is not None:
        return list(rule.rules)
    if isinstance(rule.condition, SigmaExtendedCorrelationCondition):
        return [SigmaRuleReference(r) for r in rule.condition.get_referenced_rules()]
    return []


# Our extension of the Sigma format: a top-level `canhgac:` mapping (docs/correlation.md).
EXTENSION_KEY = "canhgac"
_EXTENSION_FIELDS = ("cross_agency",)


def cross_agency_of(rule: SigmaCorrelationRule) -> bool:
    """Whether the rule spans agencies (`canhgac: {cross_agency: true}`); by default a correlation
    stays within one agency. A malformed extension is a RuleError, never a silent default."""
    extension = rule.custom_attributes.get(EXTENSION_KEY)
    if extension is None:
        return False
    if not isinstance(extension, dict):
        raise _reject(rule, f"`{EXTENSION_KEY}:` must be a mapping, e.g. {{cross_agency: true}}", "invalid_extension")
    unknown = sorted(str(k) for k in extension if k not in _EXTENSION_FIELDS)
    if unknown:
        known = ", ".join(_EXTENSION_FIELDS)
        raise _reject(
            rule, f"unknown `{EXTENSION_KEY}:` field(s) {', '.join(unknown)} (known: {known})", "invalid_extension"
        )
    value = extension.get("cross_agency", False)
    if not isinstance(value, bool):
        raise _reject(rule, f"`{EXTENSION_KEY}.cross_agency` must be true or false, not {value!r}", "invalid_extension")
    return value


def _extended_predicate(
    rule: SigmaCorrelationRule, expr: SigmaExtendedCorrelationCondition, positions: dict[str, int]
) -> tuple[Predicate, bool]:
    """Turn `a and not b` into a predicate over the set of rule positions seen in a window."""
    uses_not = False

    def build(node: CorrelationConditionItem | SigmaRuleReference) -> Callable[[object], bool]:
        nonlocal uses_not
        if isinstance(node, SigmaRuleReference):
            if node.reference not in positions:
                raise _reject(rule, f"condition names unknown rule {node.reference!r}", "unresolved_reference")
            pos = positions[node.reference]
            return lambda seen: pos in seen  # type: ignore[operator]
        args = [build(a) for a in node.args]
        if isinstance(node, CorrelationConditionNOT):
            uses_not = True
            return lambda seen: not args[0](seen)
        if isinstance(node, CorrelationConditionAND):
            return lambda seen: all(a(seen) for a in args)
        if isinstance(node, CorrelationConditionOR):
            return lambda seen: any(a(seen) for a in args)
        raise _reject(rule, f"unsupported condition node {type(node).__name__}", "unsupported_condition")

    check = build(expr.parsed)
    return (lambda _count, seen: check(seen)), not uses_not


def _condition(rule: SigmaCorrelationRule, kind: str, n_rules: int, positions: dict[str, int]) -> Condition:
    cond = rule.condition
    if isinstance(cond, SigmaExtendedCorrelationCondition):
        if kind != TEMPORAL:
            raise _reject(rule, "an expression condition is supported for temporal only", "unsupported_condition")
        holds, eager = _extended_predicate(rule, cond, positions)
        return Condition(eager=eager, holds=holds, text=cond.expression)
    assert isinstance(cond, SigmaCorrelationCondition)
    op, threshold = cond.op, cond.count
    text = f"{op.name.lower()} {threshold}"
    if kind == TEMPORAL_ORDERED and not (op in _GROWING_OPS and _COMPARE[op](n_rules, threshold)):
        # Sigma leaves "k of n rules, in order" undefined; we only run the all-rules reading.
        raise _reject(rule, f"temporal_ordered needs all rules in order, not {text}", "unsupported_condition")
    compare = _COMPARE[op]
    # An aggregate (sum of possibly negative values, average, percentile) can fall again as matches
    # arrive: the metric types are decided when the window closes.
    eager = op in _GROWING_OPS and kind not in METRIC_TYPES
    return Condition(eager=eager, holds=lambda count, _seen: compare(count, threshold), text=text)


def _group_fields(
    rule: SigmaCorrelationRule, group_by: Sequence[str], targets: Sequence[Sequence[str]]
) -> tuple[tuple[str, ...], ...]:
    """Sigma `aliases` let one group-by name mean a different field in each referenced rule."""
    alias_fields: dict[str, list[str | None]] = {}
    for alias in rule.aliases:
        per_position: list[str | None] = [None] * len(targets)
        for ref, field_name in alias.mapping.items():
            ref_keys = set(_reference_keys(ref))
            hits = [i for i, t in enumerate(targets) if ref_keys & set(t)]
            if not hits:
                raise _reject(
                    rule,
                    f"alias {alias.alias!r} maps rule {ref.reference!r} it does not reference",
                    "unresolved_reference",
                )
            for i in hits:
                per_position[i] = field_name
        alias_fields[alias.alias] = per_position
    out = []
    for pos in range(len(targets)):
        fields = []
        for name in group_by:
            if name in alias_fields:
                mapped = alias_fields[name][pos]
                if mapped is None:
                    raise _reject(rule, f"alias {name!r} has no field for rule #{pos + 1}", "incomplete_alias")
                fields.append(mapped)
            else:
                fields.append(name)
        out.append(tuple(fields))
    return tuple(out)


def compile_rule(rule: SigmaCorrelationRule, correlation_keys: set[str]) -> CorrelationSpec:
    """`correlation_keys`: lookup keys of every correlation rule given, to tell nested references."""
    kind = _SUPPORTED_TYPES.get(rule.type)
    if kind is None:
        raise _reject(rule, f"correlation type {rule.type.name.lower()} is not supported", "unsupported_type")
    own_keys = keys_of(rule.id, rule.name)
    if not own_keys:
        raise _reject(rule, "needs an id or a name to key its alerts and state", "missing_id")
    refs = _references(rule)
    if not refs:
        raise _reject(rule, "references no rules", "unresolved_reference")
    targets = tuple(tuple(_reference_keys(r)) for r in refs)
    positions = {r.reference: i for i, r in enumerate(refs)}
    condition = _condition(rule, kind, len(refs), positions)
    group_by = tuple(rule.group_by or ())
    value_field: tuple[str, ...] = ()
    percentile: int | None = None
    if kind == VALUE_COUNT or kind in METRIC_TYPES:
        assert isinstance(rule.condition, SigmaCorrelationCondition)
        ref = rule.condition.fieldref
        if not ref:
            raise _reject(rule, f"{kind} needs `field:` in its condition", "unsupported_condition")
        value_field = tuple(ref) if isinstance(ref, list) else (str(ref),)
        if kind in METRIC_TYPES and len(value_field) != 1:
            raise _reject(rule, f"{kind} aggregates one field, not {len(value_field)}", "unsupported_condition")
    if kind == VALUE_PERCENTILE:
        assert isinstance(rule.condition, SigmaCorrelationCondition)
        percentile = rule.condition.percentile
        if percentile is None or not 1 <= percentile <= 99:
            raise _reject(rule, "value_percentile needs `percentile:` between 1 and 99", "unsupported_condition")
    cross_agency = cross_agency_of(rule)
    # Whether groups span agencies changes what a group is, so it is part of the fingerprint.
    semantics = {**rule.to_dict()["correlation"], "cross_agency": cross_agency}
    return CorrelationSpec(
        key=own_keys[0],
        lookup_keys=tuple(own_keys),
        rule_id=str(rule.id) if rule.id is not None else str(rule.name),
        name=rule.name,
        title=rule.title,
        level=rule.level.name.lower() if rule.level is not None else None,
        author=rule.author,
        tags=tuple(str(t) for t in rule.tags),
        references=tuple(rule.references),
        description=rule.description,
        type=kind,
        timespan_us=rule.timespan.seconds * 1_000_000,
        group_by=group_by,
        group_fields=_group_fields(rule, group_by, targets),
        value_field=value_field,
        condition=condition,
        generate=rule.generate,
        cross_agency=cross_agency,
        targets=targets,
        target_is_correlation=tuple(bool(set(t) & correlation_keys) for t in targets),
        fingerprint=derived_id(orjson.dumps(semantics, option=orjson.OPT_SORT_KEYS, default=str).decode()),
        percentile=percentile,
    )


def evaluation_order(specs: Sequence[CorrelationSpec]) -> list[int]:
    """Inner correlations before the ones that reference them; a reference cycle is an error."""
    by_key: dict[str, int] = {}
    for i, spec in enumerate(specs):
        for k in spec.lookup_keys:
            by_key[k] = i
    order: list[int] = []
    state: dict[int, str] = {}

    def visit(i: int, path: Iterable[str]) -> None:
        if state.get(i) == "done":
            return
        if state.get(i) == "active":
            raise RuleError(
                f"correlation reference cycle: {' -> '.join([*path, specs[i].title])}",
                reason="reference_cycle",
            )
        state[i] = "active"
        for target in specs[i].targets:
            for k in target:
                if k in by_key:
                    visit(by_key[k], [*path, specs[i].title])
        state[i] = "done"
        order.append(i)

    for i in range(len(specs)):
        visit(i, [])
    return order
