"""Daily receipts per source: what the SOC holds of one source's records for one day, signed.

A receipt covers the records of `source_id` whose `event.ingested` (when the normaliser took the
raw record in) falls in `day`, midnight to midnight in the receipt's time zone. It gives their
`count`, the first and last `event.ingested`, and `chain_head`: starting from `GENESIS`, each
record in (`event.ingested`, `event.id`) order moves the head to
`sha256(head ‖ sha256(canonical JSON of the stored record))` (canhgac.core.hashchain). The receipt
is signed with HMAC-SHA256 under the SOC's receipt key. Recomputing it from the stored records
later tells whether any record of that day was changed, removed, added or reordered since.

The order and the membership depend only on stored fields, so every API replica that seals a day
computes the same receipt; the first `op_type=create` of `<source_id>:<day>` wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from canhgac.core.config import OpenSearchConfig
from canhgac.core.hashchain import GENESIS, key_id, next_head, sign, signature_valid
from canhgac.core.index import Index
from opensearchpy import AsyncOpenSearch

ALGORITHM = "canhgac-receipt/1 (sha256 chain, hmac-sha256)"
_PAGE = 1000


def receipts_index(cfg: OpenSearchConfig) -> str:
    # A SOC record like the audit log: written and read by the API's principal only.
    return f"{cfg.config_index_prefix}-receipts"


def receipt_id(source_id: str, day: date) -> str:
    return f"{source_id}:{day.isoformat()}"


def day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(timezone)
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone)


def _day_filter(source_id: str | None, day: date, timezone: str) -> list[dict[str, Any]]:
    start, end = day_bounds(day, timezone)
    filters: list[dict[str, Any]] = [{"range": {"event.ingested": {"gte": start.isoformat(), "lt": end.isoformat()}}}]
    if source_id is not None:
        filters.append({"term": {"canhgac.source_id": source_id}})
    return filters


async def sources_of_day(client: AsyncOpenSearch, cfg: OpenSearchConfig, day: date, timezone: str) -> dict[str, str]:
    """Source id -> agency of every source with stored records that day."""
    body = {
        "size": 0,
        "query": {"bool": {"filter": _day_filter(None, day, timezone)}},
        "aggs": {
            "sources": {
                "terms": {"field": "canhgac.source_id", "size": 10_000},
                "aggs": {"agency": {"terms": {"field": "canhgac.agency", "size": 1}}},
            }
        },
    }
    result = await Index(client, f"{cfg.index_prefix}.*").search(body)
    out: dict[str, str] = {}
    for bucket in result.get("aggregations", {}).get("sources", {}).get("buckets", []):
        agencies = bucket["agency"]["buckets"]
        out[str(bucket["key"])] = str(agencies[0]["key"]) if agencies else "unknown"
    return out


@dataclass
class Tally:
    count: int = 0
    first: str | None = None
    last: str | None = None
    head: str = GENESIS
    agency: str | None = None


async def tally(client: AsyncOpenSearch, cfg: OpenSearchConfig, source_id: str, day: date, timezone: str) -> Tally:
    """Count and chain the source's stored records of the day, in receipt order."""
    index = Index(client, f"{cfg.index_prefix}.*")
    out = Tally()
    after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {
            "size": _PAGE,
            "query": {"bool": {"filter": _day_filter(source_id, day, timezone)}},
            "sort": [{"event.ingested": {"order": "asc"}}, {"event.id": {"order": "asc"}}],
        }
        if after is not None:
            body["search_after"] = after
        hits = (await index.search(body))["hits"]["hits"]
        for hit in hits:
            doc = hit["_source"]
            ingested = str(doc.get("event", {}).get("ingested"))
            out.count += 1
            out.first = out.first or ingested
            out.last = ingested
            out.head = next_head(out.head, doc)
            out.agency = out.agency or doc.get("canhgac", {}).get("agency")
        if len(hits) < _PAGE:
            return out
        after = hits[-1]["sort"]


def build_receipt(
    source_id: str, agency: str, day: date, timezone: str, counted: Tally, key: bytes, sealed_at: str
) -> dict[str, Any]:
    receipt: dict[str, Any] = {
        "id": receipt_id(source_id, day),
        "source_id": source_id,
        "agency": agency,
        "day": day.isoformat(),
        "timezone": timezone,
        "count": counted.count,
        "first_ingested": counted.first,
        "last_ingested": counted.last,
        "chain_head": counted.head,
        "algorithm": ALGORITHM,
        "sealed_at": sealed_at,
        "key_id": key_id(key),
    }
    receipt["signature"] = sign(receipt, key)
    return receipt


async def verify_receipt(
    client: AsyncOpenSearch, cfg: OpenSearchConfig, receipt: dict[str, Any], key: bytes
) -> list[str]:
    """What no longer agrees between the signed receipt and the records stored now ([] = all)."""
    problems: list[str] = []
    if receipt.get("key_id") != key_id(key):
        problems.append(f"signed with another key ({receipt.get('key_id')})")
    elif not signature_valid(receipt, key):
        problems.append("signature does not match: the receipt was changed")
    now = await tally(client, cfg, str(receipt["source_id"]), date.fromisoformat(receipt["day"]), receipt["timezone"])
    if now.count != receipt.get("count"):
        problems.append(f"{receipt.get('count')} records were received, {now.count} are stored now")
    if now.head != receipt.get("chain_head"):
        problems.append("chain head differs: a record of that day was changed, removed, added or reordered")
    if (now.first, now.last) != (receipt.get("first_ingested"), receipt.get("last_ingested")):
        problems.append("first or last time differs")
    return problems


async def get_receipt(client: AsyncOpenSearch, cfg: OpenSearchConfig, source_id: str, day: date) -> dict[str, Any]:
    return await Index(client, receipts_index(cfg)).get(
        receipt_id(source_id, day), missing=f"no receipt for {source_id} on {day.isoformat()}"
    )
