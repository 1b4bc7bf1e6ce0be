"""The rule library: rule files (bundled packs and `rules.paths`, reloaded by the detector on change)
plus what was uploaded or disabled through the API (`<config_index_prefix>-rules`, which the
detector reads on its reload cycle). Compiling runs in a worker thread."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from canhgac.api.search import run_search, scope_filter
from canhgac.core.config import Settings
from canhgac.core.errors import Conflict, NotFound, RuleRejected
from canhgac.core.index import Index
from canhgac.rules.context import EventContext
from canhgac.rules.library import RuleLibrary
from canhgac.rules.loader import FileResult, load_text
from canhgac.rules.rule_cache import RuleCache, rule_cache_for
from canhgac.rules.ruleset import (
    RuleSet,
    build_ruleset,
    correlation_meta,
    origin_of,
    rule_config_from_docs,
    rule_paths,
    upload_compiler,
    uploaded_path,
)
from opensearchpy import AsyncOpenSearch

MAX_HIT_TERMS = 10_000
MAX_YAML_CHARS = 200_000


def placeholders_of(settings: Settings) -> dict[str, list[str]]:
    return {k: list(v) for k, v in settings.rules.placeholders.items()}


@functools.lru_cache(maxsize=8)
def _library(
    paths: tuple[str, ...], placeholders: tuple[tuple[str, tuple[str, ...]], ...], cache_dir: str | None
) -> RuleLibrary:
    # One library per rule configuration, kept for the process like the detector keeps its own:
    # it recompiles only changed files, and a broken edit keeps the file's previous rules, as there.
    cache = RuleCache(cache_dir) if cache_dir else None
    return RuleLibrary(paths, placeholders={k: list(v) for k, v in placeholders} or None, cache=cache)


def file_library(settings: Settings) -> RuleLibrary:
    placeholders = tuple(sorted((k, tuple(v)) for k, v in settings.rules.placeholders.items()))
    cache = rule_cache_for(settings.rules, settings.data_dir)
    cache_dir = str(cache.directory) if cache is not None else None
    library = _library(tuple(str(p) for p in rule_paths(settings.rules)), placeholders, cache_dir)
    library.reload_if_changed()
    return library


def ruleset_of(settings: Settings, rule_docs: list[dict[str, Any]]) -> RuleSet:
    """The rules in service, decided as the detector decides (canhgac.rules.ruleset)."""
    library = file_library(settings)
    return build_ruleset(
        library.file_results(),
        rule_config_from_docs(rule_docs),
        upload_compiler(placeholders_of(settings)),
        file_rejections=library.last_rejected,
    )


def _items(result: FileResult) -> list[dict[str, Any]]:
    items = [rule.meta.to_dict() | {"kind": "detection"} for rule in result.rules]
    return items + [
        correlation_meta(c) | {"kind": "correlation", "path": result.path} for c in result.correlation_rules
    ]


def load_library(settings: Settings, rule_docs: list[dict[str, Any]]) -> dict[str, Any]:
    """Every rule with its source (bundled, file, uploaded) and whether it is enabled."""
    ruleset = ruleset_of(settings, rule_docs)
    items = [entry.to_dict() for entry in ruleset.entries]
    rejected = [asdict(r) for r in ruleset.rejected]
    return {"items": sorted(items, key=lambda r: str(r.get("title"))), "rejected": rejected}


async def rule_docs(client: AsyncOpenSearch, index: str) -> list[dict[str, Any]]:
    return await Index(client, index).read_all()


async def hit_counts(
    client: AsyncOpenSearch, alerts_index: str, rule_ids: list[str], agency: str | None
) -> dict[str, int]:
    """Alerts per rule (all time), counted by OpenSearch; an agency viewer counts its agency's only."""
    if not rule_ids:
        return {}
    ids = rule_ids[:MAX_HIT_TERMS]
    body = {
        "size": 0,
        "query": {"bool": {"filter": scope_filter("agency", agency)}},
        "aggs": {"hits": {"terms": {"field": "rule.id", "include": ids, "size": len(ids)}}},
        "timeout": "10s",
    }
    result = await run_search(client, alerts_index, body)
    buckets = result.get("aggregations", {}).get("hits", {}).get("buckets", [])
    return {str(b["key"]): int(b["doc_count"]) for b in buckets}


async def list_rules(client: AsyncOpenSearch, settings: Settings, agency: str | None) -> dict[str, Any]:
    docs = await rule_docs(client, settings.opensearch.rules_index)
    library: dict[str, Any] = await asyncio.to_thread(load_library, settings, docs)
    hits = await hit_counts(client, settings.opensearch.alerts_index, [i["id"] for i in library["items"]], agency)
    for item in library["items"]:
        item["hits"] = hits.get(item["id"], 0)
    return library


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_upload(settings: Settings, text: str) -> dict[str, Any]:
    """The one rule in `text`, compiled, or RuleRejected with the reasons."""
    result = load_text(text, "<upload>", placeholders_of(settings) or None)
    if result.rejected:
        raise RuleRejected("the rule does not compile", rejections=[asdict(r) for r in result.rejected])
    items = _items(result)
    if len(items) != 1:
        raise RuleRejected(
            f"upload exactly one rule (found {len(items)})",
            rejections=[{"reason": "one rule per upload", "message": f"{len(items)} rules in the YAML"}],
        )
    item = items[0]
    if not item["id"] or item["id"].startswith("<upload>:"):
        raise RuleRejected("the rule needs an `id`", rejections=[{"reason": "invalid id", "message": "no id"}])
    return item


def file_rule_ids(settings: Settings) -> dict[str, str]:
    """Rule id -> file path of every rule the files hold."""
    ruleset = ruleset_of(settings, [])
    return {e.id: e.path for e in ruleset.entries}


async def _put(client: AsyncOpenSearch, index: str, rule_id: str, doc: dict[str, Any]) -> None:
    await Index(client, index).update(rule_id, doc, upsert=True, refresh="wait_for", retry_on_conflict=3)


async def upload_rule(client: AsyncOpenSearch, settings: Settings, text: str, by: str) -> tuple[dict[str, Any], bool]:
    """Store an uploaded rule (a new one, or a new version of an uploaded one); (rule, created)."""
    item = await asyncio.to_thread(check_upload, settings, text)
    rule_id = item["id"]
    files = await asyncio.to_thread(file_rule_ids, settings)
    if rule_id in files:
        raise Conflict(
            f"rule {rule_id} is a {origin_of(files[rule_id])} rule ({files[rule_id]}); give the upload a new id"
        )
    index = settings.opensearch.rules_index
    existing = {d["id"]: d for d in await rule_docs(client, index)}.get(rule_id)
    now = _now()
    doc = {
        "rule_id": rule_id,
        "yaml": text,
        "title": item["title"],
        "updated_at": now,
        "updated_by": by,
        "uploaded_by": by,
    }
    created = not (existing and existing.get("yaml"))
    if created:
        doc["created_at"] = now
    if existing is None:
        doc["enabled"] = True
    await _put(client, index, rule_id, doc)
    enabled = existing is None or existing.get("enabled") is not False
    return item | {"path": uploaded_path(rule_id), "source": "uploaded", "enabled": enabled}, created


async def set_enabled(
    client: AsyncOpenSearch, settings: Settings, rule_id: str, enabled: bool, by: str
) -> dict[str, Any]:
    index = settings.opensearch.rules_index
    docs = {d["id"]: d for d in await rule_docs(client, index)}
    if docs.get(rule_id, {}).get("yaml"):
        source = "uploaded"
    else:
        files = await asyncio.to_thread(file_rule_ids, settings)
        if rule_id not in files:
            raise NotFound(f"no rule {rule_id}")
        source = origin_of(files[rule_id])
    await _put(client, index, rule_id, {"rule_id": rule_id, "enabled": enabled, "updated_at": _now(), "updated_by": by})
    return {"id": rule_id, "enabled": enabled, "source": source}


async def delete_uploaded(client: AsyncOpenSearch, settings: Settings, rule_id: str) -> dict[str, Any]:
    index = settings.opensearch.rules_index
    docs = {d["id"]: d for d in await rule_docs(client, index)}
    doc = docs.get(rule_id)
    if not doc or not doc.get("yaml"):
        raise NotFound(f"no uploaded rule {rule_id} (rule files are removed from their folder)")
    await Index(client, index).delete(rule_id, missing=f"no uploaded rule {rule_id}", refresh="wait_for")
    return doc


def _compile(settings: Settings, text: str) -> FileResult:
    result = load_text(text, "<pasted>", placeholders_of(settings) or None)
    refused = [asdict(r) for r in result.rejected if r.reason == "refused YAML"]
    if refused:  # aliases, depth, size: the text itself is refused (400), not one rule in it
        raise RuleRejected(refused[0]["message"], rejections=refused)
    return result


def validate(settings: Settings, text: str) -> dict[str, Any]:
    result = _compile(settings, text)
    rules = [r.meta.to_dict() for r in result.rules]
    rules += [
        {"id": str(getattr(c, "id", "")), "title": getattr(c, "title", ""), "kind": "correlation"}
        for c in result.correlation_rules
    ]
    return {
        "valid": bool(rules) and not result.rejected,
        "rules": rules,
        "rejected": [asdict(r) for r in result.rejected],
    }


def test_rules(settings: Settings, text: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    result = _compile(settings, text)
    # Each rule's condition on each event directly: pasted events need not carry a logsource.
    results = []
    for i, event in enumerate(events):
        ctx = EventContext(event)
        results.append({"index": i, "matched": [r.meta.id for r in result.rules if r.predicate(ctx)]})
    return {
        "rules": [r.meta.to_dict() for r in result.rules],
        "rejected": [asdict(r) for r in result.rejected],
        "results": results,
    }


async def run_in_thread(func: Any, *args: Any) -> Any:
    return await asyncio.to_thread(func, *args)


def rule_detail(settings: Settings, docs: list[dict[str, Any]], rule_id: str) -> dict[str, Any]:
    """One rule of the library with the YAML it was written in: an uploaded rule's text, or the
    whole file holding a file rule (a file may hold several rules)."""
    ruleset = ruleset_of(settings, docs)
    entry = ruleset.entry(rule_id)
    if entry is None:
        raise NotFound(f"no rule {rule_id}")
    uploaded = {d["id"]: d for d in docs}.get(rule_id, {})
    if entry.origin == "uploaded":
        text = str(uploaded.get("yaml") or "")
    else:
        with open(entry.path, encoding="utf-8", errors="replace") as f:
            text = f.read(MAX_YAML_CHARS + 1)
        if len(text) > MAX_YAML_CHARS:
            text = text[:MAX_YAML_CHARS] + "\n# … (cut)\n"
    return entry.to_dict() | {"yaml": text}


async def rule_stats(
    client: AsyncOpenSearch,
    alerts_index: str,
    rule_id: str,
    agency: str | None,
    start: datetime,
    end: datetime,
    interval_secs: int,
) -> dict[str, Any]:
    """Alerts the rule raised per time bucket (by first seen), and of those how many analysts
    closed, and closed as false positives: the false-positive rate is `false_positive / closed`.
    An agency viewer counts its agency's alerts only."""
    closed = {"term": {"status": "closed"}}
    body = {
        "size": 0,
        "query": {
            "bool": {
                "filter": [
                    {"term": {"rule.id": rule_id}},
                    {"range": {"first_seen": {"gte": start.isoformat(), "lte": end.isoformat()}}},
                    *scope_filter("agency", agency),
                ]
            }
        },
        "track_total_hits": True,
        "aggs": {
            "over_time": {
                "date_histogram": {
                    "field": "first_seen",
                    "fixed_interval": f"{interval_secs}s",
                    "min_doc_count": 0,
                    "extended_bounds": {"min": start.isoformat(), "max": end.isoformat()},
                },
                "aggs": {
                    "closed": {"filter": closed},
                    "false_positive": {"filter": {"term": {"resolution": "false_positive"}}},
                },
            },
            "closed": {"filter": closed},
            "false_positive": {"filter": {"term": {"resolution": "false_positive"}}},
        },
        "timeout": "10s",
    }
    result = await run_search(client, alerts_index, body)
    aggs = result.get("aggregations", {})
    buckets = [
        {
            "start": b["key_as_string"],
            "alerts": b["doc_count"],
            "closed": b["closed"]["doc_count"],
            "false_positive": b["false_positive"]["doc_count"],
        }
        for b in aggs.get("over_time", {}).get("buckets", [])
    ]
    return {
        "rule_id": rule_id,
        "start": start,
        "end": end,
        "interval_secs": interval_secs,
        "alerts": result["hits"]["total"]["value"],
        "closed": aggs.get("closed", {}).get("doc_count", 0),
        "false_positive": aggs.get("false_positive", {}).get("doc_count", 0),
        "buckets": buckets,
    }
