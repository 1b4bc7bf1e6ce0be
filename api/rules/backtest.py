"""Backtests: a Sigma rule converted to OpenSearch queries by the same pipeline the retro-hunt uses
(canhgac.rules.convert), run over the stored events of a time range.

Converted queries need leading wildcards (Sigma's `contains`), which the search API refuses; what
bounds a backtest's cost instead is a mandatory, capped time range, a query timeout, a cap on the
regex automata, and the page size limit of the search API.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from canhgac.api.events.service import AGENCY_FIELD, TIME_FIELD, events_pattern
from canhgac.api.lists.service import stored_lists
from canhgac.api.query_guard import MAX_DETERMINIZED_STATES
from canhgac.api.rules import correlation_backtest
from canhgac.api.rules.models import Backtest
from canhgac.api.rules.service import file_rule_ids, placeholders_of, rule_docs
from canhgac.api.search import run_search, scope_filter, time_range
from canhgac.core.config import Settings
from canhgac.core.errors import InvalidRequest, NotFound, RuleRejected
from canhgac.core.watchlists import WatchList
from canhgac.rules.convert import DEFAULT_FIELD, Converted, convert_rules
from canhgac.rules.loader import Rejection, load_file
from canhgac.rules.ruleset import uploaded_path
from opensearchpy import AsyncOpenSearch

QUERY_TIMEOUT = "30s"


Lists = Mapping[str, WatchList]


def convert_text(
    settings: Settings, text: str, rule_id: str | None, name: str = "<pasted>", lists: Lists | None = None
) -> tuple[list[Converted], list[Rejection]]:
    # convert_rules reads files; a private temporary file keeps one conversion path for everything.
    with tempfile.TemporaryDirectory(prefix="canhgac-backtest-") as tmp:
        path = Path(tmp) / "rule.yml"
        path.write_text(text, encoding="utf-8")
        converted, rejected = convert_path(settings, path, rule_id, lists)
    return converted, [replace(r, path=name) for r in rejected]


def convert_path(
    settings: Settings, path: Path, rule_id: str | None, lists: Lists | None = None
) -> tuple[list[Converted], list[Rejection]]:
    """The rule's queries. `lists` (api/lists/service.py `stored_lists`, read by the caller just
    before) expands the watch lists a rule names into its queries, as they are now
    (rules/convert_lists.py); a list's edit after that is the detector's."""
    rejected: list[Rejection] = []
    converted = list(convert_rules([path], placeholders_of(settings) or None, rejected, lists))
    if rule_id is not None:
        converted = [c for c in converted if c.rule_id == rule_id]
        rejected = [r for r in rejected if r.rule_id in (rule_id, None)]
    return converted, rejected


async def _convert(
    client: AsyncOpenSearch, settings: Settings, body: Backtest
) -> tuple[list[Converted], list[Rejection]]:
    lists = await stored_lists(client, settings.opensearch)
    if body.yaml is not None:
        return await asyncio.to_thread(convert_text, settings, body.yaml, None, "<pasted>", lists)
    assert body.rule_id is not None
    uploaded = {d["id"]: d for d in await rule_docs(client, settings.opensearch.rules_index)}.get(body.rule_id)
    if uploaded and uploaded.get("yaml"):
        return await asyncio.to_thread(
            convert_text, settings, uploaded["yaml"], body.rule_id, uploaded_path(body.rule_id), lists
        )
    files = await asyncio.to_thread(file_rule_ids, settings)
    if body.rule_id not in files:
        raise NotFound(f"no rule {body.rule_id}")
    return await asyncio.to_thread(convert_path, settings, Path(files[body.rule_id]), body.rule_id, lists)


async def _correlation_backtest(
    client: AsyncOpenSearch, settings: Settings, body: Backtest, agency: str | None
) -> dict[str, Any] | None:
    """A correlation rule's backtest (api/rules/correlation_backtest.py); None for a detection rule."""
    with tempfile.TemporaryDirectory(prefix="canhgac-backtest-") as tmp:
        text: str | None = body.yaml
        path: Path | None = None
        if text is None:
            assert body.rule_id is not None
            uploaded = {d["id"]: d for d in await rule_docs(client, settings.opensearch.rules_index)}.get(body.rule_id)
            if uploaded and uploaded.get("yaml"):
                text = uploaded["yaml"]
            else:
                files = await asyncio.to_thread(file_rule_ids, settings)
                if body.rule_id not in files:
                    return None  # the detection path says 404
                path = Path(files[body.rule_id])
        if path is None:
            assert text is not None
            path = Path(tmp) / "rule.yml"
            path.write_text(text, encoding="utf-8")
        pasted = await asyncio.to_thread(load_file, path, placeholders_of(settings) or None)
        the_plan = await asyncio.to_thread(correlation_backtest.plan, settings, pasted, body.rule_id)
        if the_plan is None:
            return None
        return await correlation_backtest.run(client, settings, the_plan, body.start, body.end, body.size, agency)


async def backtest(client: AsyncOpenSearch, settings: Settings, body: Backtest, agency: str | None) -> dict[str, Any]:
    if body.start.tzinfo is None or body.end.tzinfo is None:
        raise InvalidRequest("give start and end with a time zone (Z or +07:00)")
    if body.end <= body.start:
        raise InvalidRequest("end must be after start")
    if (body.end - body.start).total_seconds() > settings.api.max_backtest_days * 86400:
        raise InvalidRequest(f"time range too long: at most {settings.api.max_backtest_days} days per backtest")
    if body.size > settings.api.max_search_size:
        raise InvalidRequest(f"size too large: at most {settings.api.max_search_size}")
    correlated = await _correlation_backtest(client, settings, body, agency)
    if correlated is not None:
        return correlated
    converted, rejected = await _convert(client, settings, body)
    if not converted:
        if rejected:
            raise RuleRejected(
                "the rule cannot be converted to an OpenSearch query",
                rejections=[asdict(r) for r in rejected],
            )
        raise InvalidRequest("no detection rule to convert")
    if len({c.rule_id for c in converted}) > 1:
        raise InvalidRequest("backtest one rule at a time")
    filters: list[dict[str, Any]] = scope_filter(AGENCY_FIELD, agency)
    rng = time_range(TIME_FIELD, body.start, body.end)
    assert rng is not None
    filters.append(rng)
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
    query = {"bool": {"should": should, "minimum_should_match": 1, "filter": filters}}
    search = {
        "query": query,
        "sort": [{TIME_FIELD: {"order": "asc", "unmapped_type": "date"}}],
        "size": body.size,
        "track_total_hits": True,
        "timeout": QUERY_TIMEOUT,
    }
    result = await run_search(client, events_pattern(settings), search)
    return {
        "rule": {"id": converted[0].rule_id, "title": converted[0].title},
        "queries": [c.query for c in converted],
        "start": body.start,
        "end": body.end,
        "total": result["hits"]["total"]["value"],
        "timed_out": bool(result.get("timed_out")),
        "items": [h["_source"] for h in result["hits"]["hits"]],
    }
