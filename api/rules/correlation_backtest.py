"""Backtesting a correlation rule: its base rules converted to OpenSearch queries (the same
conversion as any backtest), their stored matches read in time order, and the detector's own
windowing code (canhgac.rules.correlation) run over them.

What is read is bounded: at most MAX_EVENTS_PER_RULE matches per base rule (`truncated` says when
a base rule had more), within the backtest's capped time range.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from canhgac.api.events.service import AGENCY_FIELD, TIME_FIELD, events_pattern
from canhgac.api.lists.service import stored_lists
from canhgac.api.query_guard import MAX_DETERMINIZED_STATES
from canhgac.api.rules.service import file_library, placeholders_of
from canhgac.api.search import run_search, scope_filter, time_range
from canhgac.core.config import Settings
from canhgac.core.errors import InvalidRequest, RuleRejected
from canhgac.core.watchlists import WatchList
from canhgac.rules.convert import DEFAULT_FIELD, Converted, convert_rules
from canhgac.rules.correlation import CorrelationEngine
from canhgac.rules.correlation_spec import compile_rule, keys_of
from canhgac.rules.loader import FileResult
from canhgac.rules.model import RuleMeta
from opensearchpy import AsyncOpenSearch
from sigma.correlations import SigmaCorrelationRule

MAX_EVENTS_PER_RULE = 10_000
QUERY_TIMEOUT = "30s"


@dataclass(frozen=True, slots=True)
class Plan:
    target: SigmaCorrelationRule
    correlations: list[SigmaCorrelationRule]  # the target and every correlation it may nest
    base: list[RuleMeta]  # the detection rules its windows count


def _rule_key(rule: SigmaCorrelationRule) -> list[str]:
    return keys_of(rule.id, rule.name)


def plan(settings: Settings, pasted: FileResult, rule_id: str | None) -> Plan | None:
    """The correlation to backtest (None when the rule is a detection rule), with the rules it needs
    from the pasted text first, then the rule files."""
    own = pasted.correlation_rules
    target = next(
        (r for r in own if rule_id is None or rule_id in (str(r.id), r.name)),
        None,
    )
    if target is None:
        return None
    library = file_library(settings).load_result()
    by_key: dict[str, SigmaCorrelationRule] = {}
    for rule in [*own, *library.correlation_rules]:  # the pasted version of a rule wins
        by_key.setdefault(_rule_key(rule)[0], rule)
    correlations = list(by_key.values())
    keys = {k for r in correlations for k in _rule_key(r)}
    specs = {k: compile_rule(r, keys) for r in correlations for k in _rule_key(r)}
    wanted: set[str] = set()
    stack = [compile_rule(target, keys)]
    seen: set[str] = set()
    while stack:
        spec = stack.pop()
        if spec.key in seen:
            continue
        seen.add(spec.key)
        for target_keys, nested in zip(spec.targets, spec.target_is_correlation, strict=True):
            if nested:
                stack.append(next(specs[k] for k in target_keys if k in specs))
            else:
                wanted.add(target_keys[0])
    used = [r for r in correlations if set(_rule_key(r)) & seen]
    base: dict[str, RuleMeta] = {}
    for rule in [*pasted.rules, *library.rules]:
        for key in keys_of(rule.meta.id, rule.meta.name):
            if key in wanted and key not in base:
                base[key] = rule.meta
    missing = sorted(k.split(":", 1)[1] for k in wanted - set(base))
    if missing:
        raise InvalidRequest(f"the correlation rule references rules not found: {', '.join(missing)}")
    return Plan(target, used, list({m.id: m for m in base.values()}.values()))


def _convert(settings: Settings, meta: RuleMeta, lists: Mapping[str, WatchList]) -> list[Converted]:
    rejected: list[Any] = []
    found = convert_rules([Path(meta.path)], placeholders_of(settings) or None, rejected, lists)
    converted = [c for c in found if c.rule_id == meta.id]
    if not converted:
        raise RuleRejected(
            f"base rule {meta.id} cannot be converted to an OpenSearch query",
            rejections=[asdict(r) for r in rejected if r.rule_id in (meta.id, None)],
        )
    return converted


def _timestamp(event: dict[str, Any]) -> datetime | None:
    raw = event.get("@timestamp")
    try:
        ts = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


async def run(
    client: AsyncOpenSearch,
    settings: Settings,
    the_plan: Plan,
    start: datetime,
    end: datetime,
    size: int,
    agency: str | None,
) -> dict[str, Any]:
    filters: list[dict[str, Any]] = scope_filter(AGENCY_FIELD, agency)
    rng = time_range(TIME_FIELD, start, end)
    assert rng is not None
    filters.append(rng)
    events: dict[str, tuple[dict[str, Any], list[RuleMeta]]] = {}
    queries: list[str] = []
    truncated = False
    lists = await stored_lists(client, settings.opensearch)  # expanded into base rules' queries
    for meta in the_plan.base:
        converted = await asyncio.to_thread(_convert, settings, meta, lists)
        queries += [c.query for c in converted]
        should = [
            {
                "query_string": {
                    "query": c.query,
                    "default_field": DEFAULT_FIELD,
                    "allow_leading_wildcard": True,
                    "max_determinized_states": MAX_DETERMINIZED_STATES,
                }
            }
            for c in converted
        ]
        search = {
            "query": {"bool": {"should": should, "minimum_should_match": 1, "filter": filters}},
            "sort": [{TIME_FIELD: {"order": "asc", "unmapped_type": "date"}}],
            "size": MAX_EVENTS_PER_RULE,
            "track_total_hits": True,
            "timeout": QUERY_TIMEOUT,
        }
        result = await run_search(client, events_pattern(settings), search)
        truncated = truncated or result["hits"]["total"]["value"] > len(result["hits"]["hits"])
        for hit in result["hits"]["hits"]:
            entry = events.setdefault(hit["_id"], (hit["_source"], []))
            entry[1].append(meta)
    ordered = sorted(
        ((ts, event, metas) for event, metas in events.values() if (ts := _timestamp(event)) is not None),
        key=lambda item: item[0],
    )
    engine = CorrelationEngine.from_sigma(
        the_plan.correlations, allowed_lateness_secs=settings.rules.correlation_allowed_lateness_secs
    )
    target = the_plan.target
    target_id = str(target.id) if target.id is not None else str(target.name)
    alerts: dict[str, dict[str, Any]] = {}

    def keep(found: Sequence[Any]) -> None:
        for alert in found:
            if alert.rule_id == target_id:  # nested correlations only feed it
                alerts[alert.id] = alert.to_dict()

    for ts, event, metas in ordered:
        keep(engine.observe(event, metas, ts))
    # Close every window: the range is over, nothing more can arrive.
    keep(engine.advance(end + timedelta(days=1, seconds=settings.rules.correlation_allowed_lateness_secs)))
    return {
        "rule": {"id": target_id, "title": target.title},
        "queries": queries,
        "start": start,
        "end": end,
        "total": len(ordered),
        "timed_out": False,
        "items": [event for _ts, event, _m in ordered[:size]],
        "correlations": sorted(alerts.values(), key=lambda a: (a["correlation"]["window_start"], a["id"])),
        "truncated": truncated,
    }
