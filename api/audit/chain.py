"""The audit log as one hash chain per tenant, appended by any number of API replicas.

Each record carries `tenant` (the actor's agency, or the SOC's), `seq` (1, 2, …), `prev_hash` (the
hash of record `seq - 1`, or `GENESIS`) and `hash` (SHA-256 over the record's canonical JSON without
`hash`, canhgac.core.hashchain). The document id is `<tenant>:<seq>` and records are created with
`op_type=create`: whichever writer creates `seq` first owns it, and every other writer gets 409,
reads that record (a real-time GET, which sees documents a search does not see yet), and tries
`seq + 1` on top of it. So two replicas writing at once never fork the chain, without a lock
service or a single writer process; the price is a search and a few GETs per record, which the
audit log's rate (human actions) affords.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from canhgac.core.errors import BackendUnavailable, Conflict
from canhgac.core.hashchain import (
    GENESIS,
    ChainProblem,
    ChainReport,
    key_id,
    record_hash,
    sign,
    signature_valid,
    verify_chain,
)
from canhgac.core.index import Index, translated
from opensearchpy import AsyncOpenSearch

# Writers racing for one tenant's next seq; each lost race moves at least one record forward.
MAX_APPEND_ATTEMPTS = 64
_PAGE = 1000


def record_id(tenant: str, seq: int) -> str:
    return f"{tenant}:{seq:012d}"


async def _search_head(index: Index, tenant: str) -> tuple[int, str]:
    """The newest record the search sees (it may lag real time by a refresh interval)."""
    result = await index.search(
        {
            "size": 1,
            "query": {"term": {"tenant": tenant}},
            "sort": [{"seq": {"order": "desc", "unmapped_type": "long"}}],
            "_source": ["seq", "hash"],
        }
    )
    hits = result["hits"]["hits"]
    if not hits:
        return 0, GENESIS
    return int(hits[0]["_source"]["seq"]), str(hits[0]["_source"]["hash"])


async def append(client: AsyncOpenSearch, index_name: str, tenant: str, body: dict[str, Any]) -> dict[str, Any]:
    """Write `body` as the tenant's next record; returns the record as stored."""
    index = Index(client, index_name)
    # Hash what will be stored: JSON values only (a datetime in `details` becomes its text first).
    body = orjson.loads(orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS))
    seq, prev_hash = await _search_head(index, tenant)
    for _ in range(MAX_APPEND_ATTEMPTS):
        # Step past records that exist but the search did not see yet (or another writer's win).
        while (newer := await index.find(record_id(tenant, seq + 1))) is not None:
            seq, prev_hash = seq + 1, str(newer["hash"])
        doc = {**body, "id": record_id(tenant, seq + 1), "tenant": tenant, "seq": seq + 1, "prev_hash": prev_hash}
        doc["hash"] = record_hash(doc)
        try:
            await index.put(doc["id"], doc, create=True)
            return doc
        except Conflict:
            continue
    raise BackendUnavailable(f"audit chain of {tenant}: {MAX_APPEND_ATTEMPTS} writers raced for the next record")


async def tenants(client: AsyncOpenSearch, index_name: str) -> list[str]:
    result = await Index(client, index_name).search(
        {"size": 0, "aggs": {"tenants": {"terms": {"field": "tenant", "size": 10_000}}}}
    )
    buckets = result.get("aggregations", {}).get("tenants", {}).get("buckets", [])
    return sorted(str(b["key"]) for b in buckets)


async def records_in_order(client: AsyncOpenSearch, index_name: str, tenant: str) -> AsyncIterator[dict[str, Any]]:
    """Every chained record of the tenant, by `seq` (pages of search_after)."""
    index = Index(client, index_name)
    after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {
            "size": _PAGE,
            "query": {"bool": {"filter": [{"term": {"tenant": tenant}}, {"exists": {"field": "seq"}}]}},
            "sort": [{"seq": {"order": "asc"}}, {"id": {"order": "asc"}}],
        }
        if after is not None:
            body["search_after"] = after
        hits = (await index.search(body))["hits"]["hits"]
        for hit in hits:
            yield hit["_source"]
        if len(hits) < _PAGE:
            return
        after = hits[-1]["sort"]


def anchors_index(audit_index: str) -> str:
    return f"{audit_index}-anchors"


async def anchor_heads(
    client: AsyncOpenSearch, index_name: str, key: bytes, day: str, now: str
) -> list[dict[str, Any]]:
    """Sign each tenant's current head (seq, hash) as `<tenant>:<day>` in `<audit index>-anchors`.
    Removing a chain's newest records leaves no gap; a signed head kept elsewhere shows it. The
    first anchor of a day stays (op_type=create)."""
    anchors = Index(client, anchors_index(index_name))
    written = []
    with translated():
        await client.indices.refresh(index=index_name, ignore_unavailable=True)
    for tenant in await tenants(client, index_name):
        seq, head = await _search_head(Index(client, index_name), tenant)
        while (newer := await Index(client, index_name).find(record_id(tenant, seq + 1))) is not None:
            seq, head = seq + 1, str(newer["hash"])
        anchor: dict[str, Any] = {
            "id": f"{tenant}:{day}",
            "tenant": tenant,
            "day": day,
            "seq": seq,
            "hash": head,
            "anchored_at": now,
            "key_id": key_id(key),
        }
        anchor["signature"] = sign(anchor, key)
        try:
            await anchors.put(anchor["id"], anchor, create=True, refresh="wait_for")
        except Conflict:
            continue
        written.append(anchor)
    return written


async def signed_anchors(
    client: AsyncOpenSearch, index_name: str, tenant: str, key: bytes | None
) -> tuple[list[tuple[int, str]], int]:
    """The tenant's anchors whose signature holds (all, when no key is given), and how many did not."""
    result = await Index(client, anchors_index(index_name)).search(
        {"size": 10_000, "query": {"term": {"tenant": tenant}}}
    )
    good, bad = [], 0
    for hit in result["hits"]["hits"]:
        anchor = hit["_source"]
        if key is not None and not signature_valid(anchor, key):
            bad += 1
            continue
        good.append((int(anchor["seq"]), str(anchor["hash"])))
    return good, bad


async def verify(
    client: AsyncOpenSearch, index_name: str, tenant: str | None = None, key: bytes | None = None
) -> list[ChainReport]:
    """Verify each tenant's chain (or one tenant's) as stored now, against its signed anchors."""
    with translated():
        await client.indices.refresh(index=index_name, ignore_unavailable=True)
    names = [tenant] if tenant else await tenants(client, index_name)
    reports = []
    for name in names:
        anchors, forged = await signed_anchors(client, index_name, name, key)
        report = verify_chain(name, [r async for r in records_in_order(client, index_name, name)], anchors=anchors)
        for _ in range(forged):
            report.problems.append(ChainProblem("forged_anchor", -1, None, "an anchor's signature does not hold"))
        reports.append(report)
    return reports
