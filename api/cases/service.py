"""Cases in one config index per tenant: `<config_index_prefix>-cases-<agency>` for a case whose
alerts all belong to one agency, `-cases-soc` for a case over several agencies (or over the SOC's
cross-agency alerts). An agency viewer reads only its agency's index, and every read also checks
the stored `tenant`, so a case naming other agencies' alerts is the SOC's alone.

Writes read the document with its sequence number, apply one of `changes` and write it back with
`if_seq_no`, retrying on a conflict, like alert triage does: two analysts adding a comment at once
both keep theirs. SLA clocks are computed when a case is read (`clocks`).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from canhgac.api.alerts.service import is_visible
from canhgac.api.auth.models import Principal
from canhgac.api.cases import observables
from canhgac.api.cases.changes import Change, entry, now_iso, owners, system_of, titles
from canhgac.api.cases.models import CaseCreate, CaseStatus, EventPin, SearchAttach
from canhgac.api.events.service import default_window
from canhgac.api.query_guard import lucene
from canhgac.api.search import scope_filter, time_range
from canhgac.core.alert import severity_of, severity_rank
from canhgac.core.config import OpenSearchConfig, Settings
from canhgac.core.errors import Conflict, InvalidRequest, NotFound
from canhgac.core.index import Index, Versioned, translated
from canhgac.core.systems import systems_index
from opensearchpy import AsyncOpenSearch

MAX_WRITE_ATTEMPTS = 8
MAX_LISTED = 1000
_KW = {"type": "keyword"}
_DATE = {"type": "date"}
# An agency code that can name an index (api/users/models.py AGENCY_PATTERN); a scope outside it
# (an agency viewer without an agency) owns no cases.
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def cases_pattern(cfg: OpenSearchConfig) -> str:
    return f"{cfg.config_index_prefix}-cases-*"


def cases_index(cfg: OpenSearchConfig, tenant: str) -> str:
    # Index names are lower case; the stored `tenant` keeps the agency as written and is checked too.
    return f"{cfg.config_index_prefix}-cases-{tenant.lower()}"


def cases_template(cfg: OpenSearchConfig) -> dict[str, Any]:
    return {
        "index_patterns": [cases_pattern(cfg)],
        "priority": 210,
        "template": {
            "settings": {"number_of_shards": 1, "number_of_replicas": cfg.number_of_replicas, "refresh_interval": "1s"},
            "mappings": {
                "dynamic": False,
                "properties": {
                    "id": _KW,
                    "tenant": _KW,
                    "title": {"type": "text"},
                    "severity": _KW,
                    "status": _KW,
                    "assignee": _KW,
                    "agencies": _KW,
                    "alert_ids": _KW,
                    "detected_at": _DATE,
                    "created_at": _DATE,
                    "created_by": _KW,
                    "updated_at": _DATE,
                    # Read whole with the case, never searched on.
                    "observables": {"type": "object", "enabled": False},
                    "tasks": {"type": "object", "enabled": False},
                    "timeline": {"type": "object", "enabled": False},
                    "system": {"type": "object", "enabled": False},
                },
            },
        },
    }


async def ensure_cases_template(client: AsyncOpenSearch, cfg: OpenSearchConfig) -> None:
    with translated():
        await client.indices.put_index_template(name=f"{cfg.config_index_prefix}-cases", body=cases_template(cfg))


async def load_alerts(
    client: AsyncOpenSearch, settings: Settings, alert_ids: list[str], agency_scope: str | None
) -> list[dict[str, Any]]:
    """The alerts named, in the order asked; `InvalidRequest` naming those that do not exist or
    that the caller may not see (the same words for both)."""
    wanted = list(dict.fromkeys(alert_ids))
    if len(wanted) > settings.cases.max_alerts_per_case:
        raise InvalidRequest(f"too many alerts: a case holds at most {settings.cases.max_alerts_per_case}")
    found = {a["id"]: a for a in await Index(client, settings.opensearch.alerts_index).get_many(wanted) if "id" in a}
    missing = [i for i in wanted if i not in found or not is_visible(found[i], agency_scope)]
    if missing:
        raise InvalidRequest(f"no such alerts: {', '.join(missing[:20])}")
    return [found[i] for i in wanted]


async def _read(
    client: AsyncOpenSearch, cfg: OpenSearchConfig, case_id: str, agency_scope: str | None
) -> tuple[str, Versioned]:
    missing = f"case {case_id} not found"
    if agency_scope is not None and not _TENANT.fullmatch(agency_scope):
        raise NotFound(missing)
    index = cases_pattern(cfg) if agency_scope is None else cases_index(cfg, agency_scope)
    body = {
        "size": 1,
        "seq_no_primary_term": True,
        "query": {"bool": {"filter": [{"ids": {"values": [case_id]}}, *scope_filter("tenant", agency_scope)]}},
    }
    hits = (await Index(client, index).search(body))["hits"]["hits"]
    if not hits or (agency_scope is not None and hits[0]["_source"].get("tenant") != agency_scope):
        raise NotFound(missing)  # another agency's case does not exist for you
    hit = hits[0]
    return hit["_index"], Versioned(hit["_source"], hit["_seq_no"], hit["_primary_term"])


async def get_case(
    client: AsyncOpenSearch, cfg: OpenSearchConfig, case_id: str, agency_scope: str | None
) -> dict[str, Any]:
    return (await _read(client, cfg, case_id, agency_scope))[1].source


async def change_case(
    client: AsyncOpenSearch, settings: Settings, case_id: str, change: Change
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read, apply `change` (returns the fields to set and what the audit record says), write with
    if_seq_no; read again on a conflict. Only SOC staff write cases, so no agency scope here."""
    cfg = settings.opensearch
    for _ in range(MAX_WRITE_ATTEMPTS):
        index, current = await _read(client, cfg, case_id, None)
        updates, audit = change(current.source)
        updates["updated_at"] = now_iso()
        timeline = updates.get("timeline")
        if timeline is not None and len(timeline) > settings.cases.max_timeline_entries:
            raise InvalidRequest(f"the case's timeline is full ({settings.cases.max_timeline_entries} entries)")
        try:
            await Index(client, index).update(case_id, updates, version=current, refresh="wait_for")
        except Conflict:
            continue
        return current.source | updates, audit
    raise Conflict("the case kept changing while being updated; try again")


async def create_case(
    client: AsyncOpenSearch, settings: Settings, body: CaseCreate, principal: Principal
) -> dict[str, Any]:
    alerts = await load_alerts(client, settings, body.alert_ids, principal.agency_scope)
    tenant, agencies = owners(alerts)
    severity = body.severity or max((severity_of(a.get("severity")) for a in alerts), key=severity_rank)
    now = now_iso()
    first_seen = sorted(str(a.get("first_seen") or a.get("created_at") or now) for a in alerts)[0]
    rule = alerts[0].get("rule") or {}
    doc: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "tenant": tenant,
        "title": body.title or str(rule.get("title") or "Sự cố"),
        "description": body.description,
        "severity": str(severity),
        "status": CaseStatus.OPEN.value,
        "assignee": body.assignee,
        "agencies": agencies,
        "alert_ids": [a["id"] for a in alerts],
        "observables": observables.merge([], alerts),
        "tasks": [],
        "timeline": [
            entry(principal, "created"),
            entry(principal, "alerts_added", alert_ids=[a["id"] for a in alerts], titles=titles(alerts)),
        ],
        "system": system_of(alerts),
        "detected_at": first_seen,
        "created_at": now,
        "created_by": principal.username,
        "updated_at": now,
    }
    await Index(client, cases_index(settings.opensearch, tenant)).put(
        doc["id"], doc, create=True, exists="case id taken; try again", refresh="wait_for"
    )
    return doc


async def system_info(
    client: AsyncOpenSearch, cfg: OpenSearchConfig, system_id: str, agencies: list[str]
) -> dict[str, Any]:
    """The inventory's record of a system the case may name (one of the case's agencies owns it)."""
    doc = await Index(client, systems_index(cfg)).find(system_id)
    if doc is None or doc.get("agency") not in agencies:
        raise InvalidRequest(f"no system {system_id!r} among the case's agencies' systems")
    return {"id": system_id, "name": doc.get("name"), "security_level": doc.get("security_level")}


def is_event_index(settings: Settings, index: str) -> bool:
    prefix = f"{settings.opensearch.index_prefix}."
    return index.startswith(prefix) or index.startswith(f".ds-{prefix}")


async def find_event(client: AsyncOpenSearch, settings: Settings, pin: EventPin) -> dict[str, Any]:
    """The event `pin` names, from its own index (only the event indices; never a config index)."""
    pattern = f"{settings.opensearch.index_prefix}.*"
    if pin.index is not None and not is_event_index(settings, pin.index):
        raise InvalidRequest(f"{pin.index} is not an event index ({pattern})")
    body = {"size": 1, "query": {"bool": {"filter": [{"term": {"event.id": pin.event_id}}]}}}
    hits = (await Index(client, pin.index or pattern).search(body))["hits"]["hits"]
    if not hits:
        raise InvalidRequest(f"no event {pin.event_id} in {pin.index or pattern}")
    source: dict[str, Any] = hits[0]["_source"]
    return {"index": hits[0]["_index"], "source": source}


async def search_snapshot(
    client: AsyncOpenSearch, settings: Settings, body: SearchAttach, agencies: list[str]
) -> dict[str, Any]:
    """The newest `body.rows` events the search matches among the case's agencies' events (a case
    never shows an agency's data to another: the case's agencies are the filter, whoever asks),
    with the total and the range as run (absolute, UTC)."""
    if body.rows > settings.cases.max_attachment_rows:
        raise InvalidRequest(f"too many rows: at most {settings.cases.max_attachment_rows}")
    start, end = default_window(body.start, body.end)
    rng = time_range("@timestamp", start, end)
    query = {
        "bool": {
            "must": [lucene(body.query, settings.api.max_query_chars, "message")],
            "filter": [{"terms": {"canhgac.agency": agencies}}, *([rng] if rng else [])],
        }
    }
    search = {
        "query": query,
        "size": body.rows,
        "track_total_hits": True,
        "timeout": "10s",
        "sort": [
            {"@timestamp": {"order": "desc", "unmapped_type": "date"}},
            {"event.id": {"order": "asc", "unmapped_type": "keyword"}},
        ],
    }
    result = await Index(client, f"{settings.opensearch.index_prefix}.*").search(search)
    hits = result["hits"]["hits"]
    return {
        "start": start,
        "end": end,
        "total": int(result["hits"]["total"]["value"]),
        "rows": [h["_source"] for h in hits],
    }


async def list_cases(
    client: AsyncOpenSearch,
    cfg: OpenSearchConfig,
    agency_scope: str | None,
    status: str | None,
    size: int,
    alert_id: str | None = None,
    *,
    severity: str | None = None,
    assignee: str | None = None,
    agency: str | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    if agency_scope is not None and not _TENANT.fullmatch(agency_scope):
        return 0, []
    index = cases_pattern(cfg) if agency_scope is None else cases_index(cfg, agency_scope)
    filters = scope_filter("tenant", agency_scope)
    if status:
        filters.append({"term": {"status": status}})
    if alert_id:
        filters.append({"term": {"alert_ids": alert_id}})
    for field, value in (("severity", severity), ("assignee", assignee), ("agencies", agency)):
        if value:
            filters.append({"term": {field: value}})
    body = {
        "size": min(size, MAX_LISTED),
        "track_total_hits": True,
        "query": {"bool": {"filter": filters}},
        "sort": [{"created_at": {"order": "desc", "unmapped_type": "date"}}],
        "_source": {"excludes": ["timeline", "observables", "tasks"]},
    }
    result = await Index(client, index).search(body)
    return int(result["hits"]["total"]["value"]), [h["_source"] for h in result["hits"]["hits"]]
