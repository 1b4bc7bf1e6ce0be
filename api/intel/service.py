"""The indicator store: one index per tenant (`<config_index_prefix>-indicators-<agency>`, `-soc` for
the SOC's), written here and read by the detector (pipeline/intel_source.py) on its reload cycle.

A document's id is derived from (tenant, feed, type, value): a feed that sends an indicator again
rewrites it (new last seen, expiry), two feeds with the same value keep two documents (each alert
names its feed), and removing a feed's indicators never touches another feed's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from canhgac.api.intel.models import IndicatorCreate
from canhgac.core.alert import Severity, iso
from canhgac.core.config import OpenSearchConfig
from canhgac.core.errors import BackendUnavailable, InvalidRequest, NotFound
from canhgac.core.ids import derived_id
from canhgac.core.index import Index, translated
from canhgac.rules.intel.formats import Candidate
from canhgac.rules.intel.indicators import normalise, scope_of
from opensearchpy import AsyncOpenSearch

BULK_DOCS = 2_000
MAX_LISTED = 500
_KW = {"type": "keyword"}
_DATE = {"type": "date"}


def indicators_template(cfg: OpenSearchConfig) -> dict[str, Any]:
    return {
        "index_patterns": [f"{cfg.indicators_index_prefix}-*"],
        "priority": 210,
        "template": {
            "settings": {"number_of_shards": 1, "number_of_replicas": cfg.number_of_replicas, "refresh_interval": "1s"},
            "mappings": {
                "dynamic": False,
                "properties": {
                    "id": _KW,
                    "type": _KW,
                    "value": _KW,
                    "feed": _KW,
                    "agency": _KW,
                    "confidence": {"type": "integer"},
                    "severity": _KW,
                    "tags": _KW,
                    "first_seen": _DATE,
                    "last_seen": _DATE,
                    "expires_at": _DATE,
                    "reason": {"type": "text"},
                    "reference": _KW,
                    "created_by": _KW,
                    "updated_at": _DATE,
                },
            },
        },
    }


async def ensure_intel_templates(client: AsyncOpenSearch, cfg: OpenSearchConfig) -> None:
    with translated():
        await client.indices.put_index_template(name=cfg.indicators_index_prefix, body=indicators_template(cfg))


def indicator_id(agency: str | None, feed: str, kind: str, value: str) -> str:
    return derived_id(scope_of(agency), feed, kind, value)


def _out(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    expires = doc.get("expires_at")
    active = not expires or datetime.fromisoformat(str(expires).replace("Z", "+00:00")) > now
    return {**doc, "active": active}


def document(
    candidate: Candidate,
    *,
    feed: str,
    agency: str | None,
    by: str,
    now: datetime,
    confidence: int,
    severity: Severity,
    expires_at: datetime | None,
    reason: str | None,
) -> dict[str, Any]:
    doc_id = indicator_id(agency, feed, candidate.type.value, candidate.value)
    expiry = candidate.expires_at or expires_at
    return {
        "id": doc_id,
        "type": candidate.type.value,
        "value": candidate.value,
        "feed": feed,
        "agency": agency,
        "confidence": candidate.confidence if candidate.confidence is not None else confidence,
        "severity": (candidate.severity or severity).value,
        "tags": list(candidate.tags),
        "first_seen": iso(candidate.first_seen or now),
        "last_seen": iso(candidate.last_seen or now),
        "expires_at": iso(expiry) if expiry else None,
        "reason": candidate.reason or reason,
        "reference": candidate.reference,
        "created_by": by,
        "updated_at": iso(now),
    }


async def store(client: AsyncOpenSearch, cfg: OpenSearchConfig, docs: Sequence[dict[str, Any]]) -> int:
    """Write documents (whole) in bulk, `wait_for` refresh: what the caller lists next holds them.
    Any refused item fails the call (BackendUnavailable with OpenSearch's reason)."""
    written = 0
    for start in range(0, len(docs), BULK_DOCS):
        body: list[dict[str, Any]] = []
        for doc in docs[start : start + BULK_DOCS]:
            body.append({"index": {"_index": cfg.indicators_index(scope_of(doc["agency"])), "_id": doc["id"]}})
            body.append(doc)
        with translated():
            result = await client.bulk(body=body, refresh="wait_for")
        if result.get("errors"):
            failed = [i for i in result["items"] if i.get("index", {}).get("error")]
            reason = failed[0]["index"]["error"] if failed else "unknown"
            raise BackendUnavailable(f"{len(failed)} indicators not stored: {reason}")
        written += len(body) // 2
    return written


def store_candidates(
    candidates: Iterable[Candidate],
    *,
    feed: str,
    agency: str | None,
    by: str,
    confidence: int,
    severity: Severity,
    expires_days: int | None,
    reason: str | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """The documents for a feed's or an import's candidates (one per tenant, feed, type, value)."""
    now = now or datetime.now(UTC)
    expires_at = now + timedelta(days=expires_days) if expires_days else None
    docs: dict[str, dict[str, Any]] = {}
    for candidate in candidates:
        doc = document(
            candidate,
            feed=feed,
            agency=agency,
            by=by,
            now=now,
            confidence=confidence,
            severity=severity,
            expires_at=expires_at,
            reason=reason,
        )
        docs[doc["id"]] = doc
    return list(docs.values())


async def add_indicator(
    client: AsyncOpenSearch, cfg: OpenSearchConfig, body: IndicatorCreate, by: str
) -> dict[str, Any]:
    try:
        kind, value = normalise(body.type, body.value)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from exc
    now = datetime.now(UTC)
    doc = document(
        Candidate(kind, value, tags=tuple(body.tags)),
        feed=body.feed,
        agency=body.agency,
        by=by,
        now=now,
        confidence=body.confidence,
        severity=body.severity,
        expires_at=body.expires_at,
        reason=body.reason,
    )
    await store(client, cfg, [doc])
    return _out(doc, now)


def _pattern(cfg: OpenSearchConfig) -> str:
    return f"{cfg.indicators_index_prefix}-*"


async def list_indicators(
    client: AsyncOpenSearch,
    cfg: OpenSearchConfig,
    *,
    value: str | None,
    kind: str | None,
    feed: str | None,
    agency: str | None,
    active: bool | None,
    size: int,
) -> tuple[int, list[dict[str, Any]]]:
    now = datetime.now(UTC)
    filters: list[dict[str, Any]] = []
    if value:
        filters.append({"term": {"value": value}})
    if kind:
        filters.append({"term": {"type": kind}})
    if feed:
        filters.append({"term": {"feed": feed}})
    if agency:
        filters.append({"term": {"agency": agency}})
    live = {
        "bool": {
            "should": [
                {"bool": {"must_not": {"exists": {"field": "expires_at"}}}},
                {"range": {"expires_at": {"gt": now.isoformat()}}},
            ],
            "minimum_should_match": 1,
        }
    }
    if active is True:
        filters.append(live)
    elif active is False:
        filters.append({"bool": {"must_not": live}})
    body = {
        "size": min(size, MAX_LISTED),
        "track_total_hits": True,
        "query": {"bool": {"filter": filters}},
        "sort": [{"updated_at": {"order": "desc", "unmapped_type": "date"}}],
    }
    result = await Index(client, _pattern(cfg)).search(body)
    hits = result["hits"]["hits"]
    return int(result["hits"]["total"]["value"]), [_out(h["_source"], now) for h in hits]


async def _find(client: AsyncOpenSearch, cfg: OpenSearchConfig, indicator_id_: str) -> tuple[str, dict[str, Any]]:
    result = await Index(client, _pattern(cfg)).search({"size": 1, "query": {"ids": {"values": [indicator_id_]}}})
    hits = result["hits"]["hits"]
    if not hits:
        raise NotFound(f"no indicator {indicator_id_}")
    return hits[0]["_index"], hits[0]["_source"]


async def get_indicator(client: AsyncOpenSearch, cfg: OpenSearchConfig, indicator_id_: str) -> dict[str, Any]:
    _index, doc = await _find(client, cfg, indicator_id_)
    return _out(doc, datetime.now(UTC))


async def expire_indicator(
    client: AsyncOpenSearch, cfg: OpenSearchConfig, indicator_id_: str, by: str, reason: str | None
) -> dict[str, Any]:
    """It stays listed (inactive) and stops matching within the detector's reload cycle."""
    index, doc = await _find(client, cfg, indicator_id_)
    now = datetime.now(UTC)
    changes = {"expires_at": iso(now), "updated_at": iso(now), "expired_by": by}
    if reason:
        changes["expiry_reason"] = reason
    await Index(client, index).update(
        indicator_id_, changes, refresh="wait_for", missing=f"no indicator {indicator_id_}"
    )
    return _out({**doc, **changes}, now)


async def remove_indicator(client: AsyncOpenSearch, cfg: OpenSearchConfig, indicator_id_: str) -> dict[str, Any]:
    index, doc = await _find(client, cfg, indicator_id_)
    await Index(client, index).delete(indicator_id_, missing=f"no indicator {indicator_id_}", refresh="wait_for")
    return doc


async def feed_counts(client: AsyncOpenSearch, cfg: OpenSearchConfig) -> dict[str, int]:
    """Indicators in the store per feed (expired ones too: they are still listed)."""
    body = {"size": 0, "aggs": {"feeds": {"terms": {"field": "feed", "size": 1000}}}}
    result = await Index(client, _pattern(cfg)).search(body)
    buckets = (result.get("aggregations") or {}).get("feeds", {}).get("buckets", [])
    return {str(b["key"]): int(b["doc_count"]) for b in buckets}
