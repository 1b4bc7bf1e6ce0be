"""Sealing and reading receipts (core/receipts.py holds what a receipt is and how it verifies).

Sealing runs in the API process: its principal is the one that reads every agency's events and
writes the SOC's own records, so no pipeline stage needs new rights, and a receipt attests exactly
the records the SOC holds and shows. Replicas may seal the same day at once: they compute the same
receipt from the same stored records, and the first `op_type=create` wins.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from canhgac.api.audit.chain import anchor_heads
from canhgac.api.search import run_search, scope_filter
from canhgac.core.config import Settings
from canhgac.core.errors import Conflict, NotFound
from canhgac.core.index import Index
from canhgac.core.receipts import build_receipt, get_receipt, receipt_id, receipts_index, sources_of_day, tally
from opensearchpy import AsyncOpenSearch

log = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def seal_day(client: AsyncOpenSearch, settings: Settings, day: date, key: bytes) -> list[dict[str, Any]]:
    """Seal the day's receipt of every source with records that day; returns those newly stored
    (a source already sealed that day keeps its receipt)."""
    cfg = settings.opensearch
    index = Index(client, receipts_index(cfg))
    sealed = []
    for source_id, agency in sorted((await sources_of_day(client, cfg, day, settings.timezone)).items()):
        if await index.find(receipt_id(source_id, day)) is not None:
            continue
        counted = await tally(client, cfg, source_id, day, settings.timezone)
        receipt = build_receipt(source_id, agency, day, settings.timezone, counted, key, _now())
        try:
            await index.put(receipt["id"], receipt, create=True, refresh="wait_for")
        except Conflict:
            continue  # another replica sealed it a moment ago: the same receipt
        sealed.append(receipt)
    return sealed


def due_days(settings: Settings, now: datetime) -> list[date]:
    """Closed days (past the grace after local midnight) within the lookback, oldest first."""
    cfg = settings.receipts
    local = (now - timedelta(seconds=cfg.grace_secs)).astimezone(ZoneInfo(settings.timezone))
    last_closed = local.date() - timedelta(days=1)
    return [last_closed - timedelta(days=n) for n in reversed(range(cfg.lookback_days))]


async def seal_loop(client: AsyncOpenSearch, settings: Settings, key: bytes, stop: asyncio.Event) -> None:
    """Seal every due day each `receipts.interval_secs` until `stop`, and anchor the audit log's
    heads once a day; failures wait a round."""
    while not stop.is_set():
        try:
            now = datetime.now(UTC)
            for day in due_days(settings, now):
                for receipt in await seal_day(client, settings, day, key):
                    log.info("receipt sealed: %s (%d records)", receipt["id"], receipt["count"])
            # The audit log's heads, signed once a day: removing its newest records shows then.
            today = now.astimezone(ZoneInfo(settings.timezone)).date().isoformat()
            await anchor_heads(client, settings.opensearch.audit_index, key, today, _now())
        except Exception:  # the task's supervisor boundary: OpenSearch down or busy; next round retries
            log.warning("sealing receipts failed, retrying in %.0fs", settings.receipts.interval_secs, exc_info=True)
        try:
            await asyncio.wait_for(stop.wait(), timeout=settings.receipts.interval_secs)
        except TimeoutError:
            continue


async def list_receipts(
    client: AsyncOpenSearch, settings: Settings, agency: str | None, source_id: str | None, size: int
) -> list[dict[str, Any]]:
    filters = scope_filter("agency", agency)
    if source_id:
        filters.append({"term": {"source_id": source_id}})
    body = {
        "size": size,
        "query": {"bool": {"filter": filters}},
        "sort": [{"day": {"order": "desc"}}, {"source_id": {"order": "asc"}}],
    }
    result = await run_search(client, receipts_index(settings.opensearch), body)
    return [h["_source"] for h in result["hits"]["hits"]]


async def visible_receipt(
    client: AsyncOpenSearch, settings: Settings, agency: str | None, source_id: str, day: date
) -> dict[str, Any]:
    """The receipt, if the caller may see it (another agency's is as missing as none)."""
    receipt = await get_receipt(client, settings.opensearch, source_id, day)
    if agency is not None and receipt.get("agency") != agency:
        raise NotFound(f"no receipt for {source_id} on {day.isoformat()}")
    return receipt
