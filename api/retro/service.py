"""The retro-hunt job store: `<config_index_prefix>-retro-jobs`, one document per job with its state,
progress, counters, resume point and the runner's lease. Jobs are queued here by the routes that
bring knowledge (indicator add/import, feed polls, rule uploads) and by hand; the runner
(api/retro/runner.py) takes them one at a time.

A job survives restarts: a running job whose runner stopped (or died: its lease ran out) is taken
again from its resume point. At most one job runs at a time across API replicas: a runner claims a
job only when no other job holds a live lease, with a conditional write (of two runners racing,
one wins).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from canhgac.api.retro.models import FINISHED, JobKind, JobState
from canhgac.core.alert import iso
from canhgac.core.config import OpenSearchConfig, Settings
from canhgac.core.errors import Conflict, NotFound
from canhgac.core.index import Index, translate, translated
from canhgac.rules.intel.formats import parse_time
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import TransportError

MAX_LISTED = 200
_KW = {"type": "keyword"}
_DATE = {"type": "date"}
_LONG = {"type": "long"}


def jobs_index(cfg: OpenSearchConfig) -> str:
    return f"{cfg.config_index_prefix}-retro-jobs"


MAPPINGS = {
    "dynamic": False,
    "properties": {
        "id": _KW,
        "kind": _KW,
        "state": _KW,
        "trigger": _KW,
        "created_by": _KW,
        "created_at": _DATE,
        "updated_at": _DATE,
        "lease_until": _DATE,
        "rule_id": _KW,
        "indicator_ids": {"type": "keyword", "index": False, "doc_values": False},
        "rule_yaml": {"type": "text", "index": False},
    },
}


async def ensure_jobs_index(client: AsyncOpenSearch, cfg: OpenSearchConfig) -> None:
    name = jobs_index(cfg)
    body = {
        "settings": {"number_of_shards": 1, "number_of_replicas": cfg.number_of_replicas},
        "mappings": MAPPINGS,
    }
    try:
        if not await client.indices.exists(index=name):
            await client.indices.create(index=name, body=body)
    except TransportError as exc:
        if exc.status_code == 400 and exc.error == "resource_already_exists_exception":
            return  # created meanwhile by another replica
        raise translate(exc) from exc


def _now() -> datetime:
    return datetime.now(UTC)


def _job(
    kind: JobKind, trigger: str, by: str, lookback_days: int, arrived_at: datetime | None, **fields: Any
) -> dict[str, Any]:
    now = _now()
    return {
        "id": f"hunt-{now.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}",
        "kind": kind.value,
        "state": JobState.QUEUED.value,
        "trigger": trigger,
        "created_by": by,
        "created_at": iso(now),
        "updated_at": iso(now),
        "arrived_at": iso(arrived_at or now),
        "lookback_days": lookback_days,
        "progress": {"percent": 0.0, "segment": 0, "segments": 0, "segment_total": 0},
        "events_scanned": 0,
        "events_matched": 0,
        "alerts_raised": 0,
        "alerts_existing": 0,
        "cancel_requested": False,
        **fields,
    }


async def _put_new(client: AsyncOpenSearch, cfg: OpenSearchConfig, doc: dict[str, Any]) -> None:
    await ensure_jobs_index(client, cfg)
    await Index(client, jobs_index(cfg)).put(doc["id"], doc, create=True, refresh="wait_for")


async def enqueue_indicators(
    client: AsyncOpenSearch,
    settings: Settings,
    indicator_ids: list[str],
    *,
    trigger: str,
    by: str,
    lookback_days: int | None = None,
) -> list[dict[str, Any]]:
    """Queue hunts for these indicators (several jobs past `max_indicators_per_job`); [] when
    retro-hunts are off or there is nothing to look for."""
    cfg = settings.retro_hunt
    if not cfg.enabled or not indicator_ids:
        return []
    ids = list(dict.fromkeys(indicator_ids))
    jobs = []
    for start in range(0, len(ids), cfg.max_indicators_per_job):
        chunk = ids[start : start + cfg.max_indicators_per_job]
        doc = _job(
            JobKind.INDICATORS,
            trigger,
            by,
            lookback_days or cfg.lookback_days,
            None,
            indicator_ids=chunk,
            indicator_count=len(chunk),
        )
        await _put_new(client, settings.opensearch, doc)
        jobs.append(doc)
    return jobs


async def enqueue_rule(
    client: AsyncOpenSearch,
    settings: Settings,
    rule_id: str,
    *,
    yaml_text: str | None,
    trigger: str,
    by: str,
    lookback_days: int | None = None,
) -> dict[str, Any] | None:
    """Queue a hunt of one rule: `yaml_text` is the version to run (an upload's), None for a file
    rule (read when the job runs)."""
    cfg = settings.retro_hunt
    if not cfg.enabled:
        return None
    doc = _job(
        JobKind.RULE, trigger, by, lookback_days or cfg.lookback_days, None, rule_id=rule_id, rule_yaml=yaml_text
    )
    await _put_new(client, settings.opensearch, doc)
    return doc


def public(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in ("indicator_ids", "rule_yaml", "cursor")}
    return out | {"unpublished_count": len(doc.get("unpublished") or [])}


async def list_jobs(client: AsyncOpenSearch, cfg: OpenSearchConfig, size: int) -> list[dict[str, Any]]:
    body = {
        "size": min(size, MAX_LISTED),
        "sort": [{"created_at": {"order": "desc", "unmapped_type": "date"}}],
        "_source": {"excludes": ["indicator_ids", "rule_yaml"]},
    }
    result = await Index(client, jobs_index(cfg)).search(body)
    return [public(h["_source"]) for h in result["hits"]["hits"]]


async def get_job(client: AsyncOpenSearch, cfg: OpenSearchConfig, job_id: str) -> dict[str, Any]:
    return await Index(client, jobs_index(cfg)).get(job_id, missing=f"no retro-hunt job {job_id}")


async def cancel_job(client: AsyncOpenSearch, cfg: OpenSearchConfig, job_id: str, by: str) -> dict[str, Any]:
    """A queued job is cancelled now; a running one at its next page (its runner reads the flag)."""
    jobs = Index(client, jobs_index(cfg))
    for _ in range(5):
        current = await jobs.get_versioned(job_id, missing=f"no retro-hunt job {job_id}")
        doc = current.source
        if JobState(doc["state"]) in FINISHED:
            raise Conflict(f"job {job_id} is {doc['state']} already")
        now = iso(_now())
        changes: dict[str, Any] = {"cancel_requested": True, "cancelled_by": by, "updated_at": now}
        if doc["state"] == JobState.QUEUED:
            changes |= {"state": JobState.CANCELLED.value, "finished_at": now}
        try:
            await jobs.update(job_id, changes, version=current, refresh="wait_for")
        except Conflict:
            continue  # the runner wrote its progress meanwhile: read again
        return {**doc, **changes}
    raise Conflict(f"job {job_id} kept changing; try again")


async def claim_next(
    client: AsyncOpenSearch, cfg: OpenSearchConfig, owner: str, lease_secs: float
) -> dict[str, Any] | None:
    """The next job for this runner (oldest queued, or a running one whose runner is gone), leased
    to it; None when there is none or another job holds a live lease (one job at a time)."""
    jobs = Index(client, jobs_index(cfg))
    now = _now()
    active = {"terms": {"state": [JobState.QUEUED.value, JobState.RUNNING.value]}}
    result = await jobs.search(
        {
            "size": 20,
            "query": {"bool": {"filter": [active]}},
            "sort": [{"created_at": {"order": "asc"}}],
            "_source": ["id", "state", "lease_until", "lease_owner"],
        },
        seq_no_primary_term=True,
    )
    hits = result["hits"]["hits"]
    for hit in hits:
        lease = parse_time(hit["_source"].get("lease_until"))
        if hit["_source"]["state"] == JobState.RUNNING and lease is not None and lease > now:
            if hit["_source"].get("lease_owner") != owner:
                return None  # another runner's job is running
    for hit in hits:
        doc = hit["_source"]
        lease = parse_time(doc.get("lease_until"))
        if doc["state"] == JobState.RUNNING and lease is not None and lease > now:
            continue
        changes = {
            "state": JobState.RUNNING.value,
            "lease_owner": owner,
            "lease_until": iso(now + timedelta(seconds=lease_secs)),
            "updated_at": iso(now),
        }
        try:
            with translated():
                await client.update(
                    index=jobs.name,
                    id=hit["_id"],
                    body={"doc": changes},
                    if_seq_no=hit["_seq_no"],
                    if_primary_term=hit["_primary_term"],
                    refresh="wait_for",
                )
        except (Conflict, NotFound):
            return None  # another runner took it: look again next round
        return await jobs.get(hit["_id"])
    return None
