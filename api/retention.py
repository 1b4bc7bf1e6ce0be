"""Retention of the SOC's own records: closed alerts, closed cases and the audit log (events:
pipeline/retention.py; their archive: core/archive.py).

It runs in the API process because the API's principal is the one that writes alerts and the audit
log (docs/security.md); no other component gets the right to delete them.

- Alerts: closed alerts whose `last_seen` is older than `retention.alerts_days` are deleted. Open
  alerts (new, acknowledged, in progress) stay whatever their age: someone must close them.
- Cases: closed cases not changed (`updated_at`: closing, a comment, a task…) for
  `retention.cases_days` are deleted from every tenant's cases index. Open, investigating and
  contained cases stay whatever their age.
- Audit log: per tenant chain, the records older than `retention.audit_days` are removed only
  after an `audit.pruned` record is appended to that chain naming the last record removed and its
  hash. `canhgac audit verify` then accepts the chain starting right after it, and still reports
  any other record missing at the start (someone deleting old records by hand).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from canhgac.api.audit.chain import append, tenants
from canhgac.api.cases.models import CaseStatus
from canhgac.api.cases.service import cases_pattern
from canhgac.core.alert import Status
from canhgac.core.config import Settings
from canhgac.core.hashchain import PRUNED_ACTION
from canhgac.core.index import Index, translated
from opensearchpy import AsyncOpenSearch

log = logging.getLogger(__name__)


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def prune_alerts(client: AsyncOpenSearch, index: str, days: int, now: datetime) -> int:
    """Delete closed alerts last seen before `now - days`; returns how many."""
    query = {
        "bool": {
            "filter": [
                {"term": {"status": Status.CLOSED.value}},
                {"range": {"last_seen": {"lt": _iso(now - timedelta(days=days))}}},
            ]
        }
    }
    with translated():
        result = await client.delete_by_query(
            index=index, body={"query": query}, conflicts="proceed", refresh=True, ignore_unavailable=True
        )
    return int(result.get("deleted", 0))


async def prune_cases(client: AsyncOpenSearch, pattern: str, days: int, now: datetime) -> int:
    """Delete closed cases not updated since `now - days` (every index matching `pattern`)."""
    query = {
        "bool": {
            "filter": [
                {"term": {"status": CaseStatus.CLOSED.value}},
                {"range": {"updated_at": {"lt": _iso(now - timedelta(days=days))}}},
            ]
        }
    }
    with translated():
        result = await client.delete_by_query(
            index=pattern,
            body={"query": query},
            conflicts="proceed",
            refresh=True,
            ignore_unavailable=True,
            allow_no_indices=True,
        )
    return int(result.get("deleted", 0))


async def prune_audit(client: AsyncOpenSearch, index: str, days: int, now: datetime) -> dict[str, int]:
    """Remove each tenant's audit records older than `now - days`, recording the cut in the chain
    first; returns the records removed per tenant."""
    cutoff = _iso(now - timedelta(days=days))
    removed: dict[str, int] = {}
    audit = Index(client, index)
    with translated():
        await client.indices.refresh(index=index, ignore_unavailable=True)
    for tenant in await tenants(client, index):
        in_tenant = [{"term": {"tenant": tenant}}, {"exists": {"field": "seq"}}]
        newest_old = await audit.search(
            {
                "size": 1,
                "query": {"bool": {"filter": [*in_tenant, {"range": {"@timestamp": {"lt": cutoff}}}]}},
                "sort": [{"seq": {"order": "desc"}}],
            }
        )
        hits = newest_old["hits"]["hits"]
        if not hits:
            continue
        last = hits[0]["_source"]
        await append(
            client,
            index,
            tenant,
            {
                "@timestamp": _iso(now),
                "actor": {"username": "retention"},
                "action": PRUNED_ACTION,
                "outcome": "success",
                "target": {"type": "audit", "id": tenant},
                "client": {"ip": None},
                "details": {"up_to_seq": last["seq"], "up_to_hash": last["hash"], "older_than": cutoff, "days": days},
            },
        )
        with translated():
            result = await client.delete_by_query(
                index=index,
                body={"query": {"bool": {"filter": [*in_tenant, {"range": {"seq": {"lte": last["seq"]}}}]}}},
                conflicts="proceed",
                refresh=True,
            )
        removed[tenant] = int(result.get("deleted", 0))
        log.info("audit retention: %d records of %s removed (up to seq %d)", removed[tenant], tenant, last["seq"])
    return removed


async def retention_loop(client: AsyncOpenSearch, settings: Settings, stop: asyncio.Event) -> None:
    """Every `retention.interval_secs` (the first run one interval after start) until `stop`."""
    cfg = settings.retention
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=cfg.interval_secs)
            return
        except TimeoutError:
            pass
        try:
            now = datetime.now(UTC)
            alerts = await prune_alerts(client, settings.opensearch.alerts_index, cfg.alerts_days, now)
            if alerts:
                log.info("alert retention: %d closed alerts removed", alerts)
            cases = await prune_cases(client, cases_pattern(settings.opensearch), cfg.cases_days, now)
            if cases:
                log.info("case retention: %d closed cases removed", cases)
            await prune_audit(client, settings.opensearch.audit_index, cfg.audit_days, now)
        except Exception:  # the task's supervisor boundary: OpenSearch down or busy; next round retries
            log.warning("alert/case/audit retention failed; retrying in %.0fs", cfg.interval_secs, exc_info=True)
