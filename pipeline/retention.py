"""Retention: delete events older than their source's security level allows.

OpenSearch's ISM plugin is not published on Maven Central, so the local and CI node runs without
it; this task does the same job with `_delete_by_query` per security level, once per interval.
Production clusters that have ISM can use `deploy/opensearch/ism-policy.json` instead (rollover +
delete by age) and set `retention.enabled: false`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from canhgac.core.config import RetentionConfig, SourceConfig
from canhgac.core.source_registry import SourceRegistry
from opensearchpy import AsyncOpenSearch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionRule:
    cutoff: datetime
    source_ids: tuple[str, ...] | None  # None: every source not declared (the default level)


def retention_rules(sources: Sequence[SourceConfig], cfg: RetentionConfig, now: datetime) -> list[RetentionRule]:
    by_level: dict[int, list[str]] = defaultdict(list)
    for source in sources:
        by_level[source.security_level].append(source.id)
    rules = [
        RetentionRule(now - timedelta(days=cfg.days_by_level[level]), tuple(sorted(ids)))
        for level, ids in sorted(by_level.items())
    ]
    rules.append(RetentionRule(now - timedelta(days=cfg.days_by_level[cfg.default_level]), None))
    return rules


def delete_query(rule: RetentionRule, declared: Sequence[str]) -> dict[str, Any]:
    older = {"range": {"@timestamp": {"lt": rule.cutoff.isoformat()}}}
    if rule.source_ids is None:
        return {"query": {"bool": {"filter": [older], "must_not": [{"terms": {"canhgac.source_id": list(declared)}}]}}}
    return {"query": {"bool": {"filter": [older, {"terms": {"canhgac.source_id": list(rule.source_ids)}}]}}}


async def apply_retention(
    client: AsyncOpenSearch,
    index_prefix: str,
    sources: Sequence[SourceConfig],
    cfg: RetentionConfig,
    now: datetime | None = None,
) -> int:
    """Delete what is past retention; returns how many documents were deleted."""
    now = now or datetime.now(UTC)
    declared = [s.id for s in sources]
    deleted = 0
    for rule in retention_rules(sources, cfg, now):
        result = await client.delete_by_query(
            index=f"{index_prefix}.*",
            body=delete_query(rule, declared),
            params={
                "conflicts": "proceed",
                "allow_no_indices": "true",
                "ignore_unavailable": "true",
                "refresh": "true",
            },
        )
        deleted += int(result.get("deleted", 0))
    if deleted:
        log.info("retention: deleted %d events past their retention", deleted)
    return deleted


async def retention_loop(
    client_factory: Any, index_prefix: str, sources: SourceRegistry, cfg: RetentionConfig, stop: Any
) -> None:
    """Run retention every `interval_secs` until `stop` (an asyncio.Event) is set. Each pass uses
    the declarations as they are then (`sources` re-reads the API's, core/source_registry.py), so a
    source declared, or whose security level was edited, through the API is kept by its own level."""
    import asyncio

    if short := cfg.short_levels():
        log.warning(
            "retention below 12 months (Decree 53/2022 art. 27) for security levels %s: %s days",
            short,
            [cfg.days_by_level[level] for level in short],
        )
    while not stop.is_set():
        client = client_factory()
        try:
            await sources.refresh()
            await apply_retention(client, index_prefix, sources.sources(), cfg)
        except Exception:  # OpenSearch down or busy: try again next interval, never crash the process
            log.warning("retention run failed; retrying in %.0fs", cfg.interval_secs, exc_info=True)
        finally:
            await client.close()
        try:
            await asyncio.wait_for(stop.wait(), timeout=cfg.interval_secs)
        except TimeoutError:
            continue
    await sources.close()
