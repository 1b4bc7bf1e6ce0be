"""The detector's view of the indicator store: `<config_index_prefix>-indicators-*` (one index per
tenant, written by the API and its feed pollers), read whole into a canhgac.rules.intel matcher.

Each reload cycle asks OpenSearch one cheap question (how many unexpired indicators, the newest
`updated_at`); only when the answer changed is the set read again (scrolled, any size) and a new
matcher built off the event loop, then swapped in. While OpenSearch cannot be read the detector
keeps the matcher it has: a refresh failure never changes what is matched.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

from canhgac.core.config import OpenSearchConfig
from canhgac.core.errors import BackendUnavailable, NotFound
from canhgac.core.index import translated
from canhgac.core.metrics import Metrics
from canhgac.core.store import make_client
from canhgac.rules.intel.indicators import Indicator
from canhgac.rules.intel.matcher import IndicatorMatcher
from opensearchpy import AsyncOpenSearch

log = logging.getLogger(__name__)
PAGE = 5_000
SCROLL = "2m"


def unexpired(now: datetime) -> dict[str, Any]:
    return {
        "bool": {
            "should": [
                {"bool": {"must_not": {"exists": {"field": "expires_at"}}}},
                {"range": {"expires_at": {"gt": now.isoformat()}}},
            ],
            "minimum_should_match": 1,
        }
    }


async def read_indicators(client: AsyncOpenSearch, pattern: str, now: datetime) -> list[dict[str, Any]]:
    """Every unexpired indicator document (with `id`), scrolled page by page."""
    docs: list[dict[str, Any]] = []
    scroll_id: str | None = None
    try:
        with translated():
            page = await client.search(
                index=pattern,
                body={"size": PAGE, "query": unexpired(now), "sort": ["_doc"]},
                scroll=SCROLL,
                ignore_unavailable=True,
                allow_no_indices=True,
            )
            while True:
                scroll_id = page.get("_scroll_id")
                hits = page["hits"]["hits"]
                docs.extend({"id": h["_id"], **h["_source"]} for h in hits)
                if len(hits) < PAGE or scroll_id is None:
                    break
                page = await client.scroll(scroll_id=scroll_id, scroll=SCROLL)
    except NotFound:
        return docs
    finally:
        if scroll_id is not None:
            try:
                await client.clear_scroll(scroll_id=scroll_id)
            except Exception:  # a scroll left behind expires on its own
                log.debug("clear_scroll failed", exc_info=True)
    return docs


def build_matcher(docs: list[dict[str, Any]], on_bad: Any = None) -> IndicatorMatcher:
    indicators = []
    for doc in docs:
        try:
            indicators.append(Indicator.from_doc(doc))
        except (KeyError, ValueError, TypeError) as exc:
            if on_bad is not None:
                on_bad(doc, exc)
    return IndicatorMatcher(indicators)


class IntelSource:
    """Owns its OpenSearch client (opened in start, closed in close)."""

    def __init__(self, cfg: OpenSearchConfig, metrics: Metrics) -> None:
        self.cfg = cfg
        self.metrics = metrics
        self.client: AsyncOpenSearch | None = None
        self.pattern = f"{cfg.indicators_index_prefix}-*"
        self._version: tuple[int, Any] | None = None

    async def start(self) -> None:
        self.client = make_client(self.cfg, component="detector")

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None

    async def _version_now(self, now: datetime) -> tuple[int, Any]:
        assert self.client is not None
        try:
            with translated():
                result = await self.client.search(
                    index=self.pattern,
                    body={
                        "size": 0,
                        "track_total_hits": True,
                        "query": unexpired(now),
                        "aggs": {"newest": {"max": {"field": "updated_at"}}},
                    },
                    ignore_unavailable=True,
                    allow_no_indices=True,
                )
        except NotFound:
            return 0, None
        newest = (result.get("aggregations") or {}).get("newest", {}).get("value")
        return int(result["hits"]["total"]["value"]), newest

    async def fetch(self) -> IndicatorMatcher | None:
        """A new matcher when the store changed since the last one, else None (keep the current)."""
        if self.client is None:
            return None
        now = datetime.now(UTC)
        try:
            version = await self._version_now(now)
            if version == self._version:
                return None
            started = time.monotonic()
            docs = await read_indicators(self.client, self.pattern, now)
        except BackendUnavailable as exc:
            self.metrics.errors.labels("detector", "intel_unavailable").inc()
            log.warning("indicators not refreshed (keeping the last set): %s", exc)
            return None
        bad = self.metrics.errors.labels("detector", "bad_indicator")
        matcher = await asyncio.to_thread(build_matcher, docs, lambda _doc, _exc: bad.inc())
        self._version = version
        log.info(
            "detector: %d indicators loaded in %.1fs %s", len(matcher), time.monotonic() - started, matcher.counts()
        )
        return matcher
