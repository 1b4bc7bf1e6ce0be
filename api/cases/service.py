"""Cases in one config index per tenant: `<config_index_prefix>-cases-<agency>` for a case whose
alerts all belong to one agency, `-cases-soc` for a case over several agencies (or over the SOC's
cross-agency alerts). An agency viewer reads only its agency's index, and every read also checks
the stored `tenant`, so a case naming other agencies' alerts is the SOC's alone.

Writes read the document with its sequence number and write it back with `if_seq_no`, retrying on
a conflict, like alert triage does: two analysts adding a comment at once both keep theirs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from canhgac.api.alerts.service import is_visible
from canhgac.api.auth.models import Principal
from canhgac.api.cases import observables
from canhgac.api.cases.models import CaseCreate, CaseStatus, CaseUpdate, EventPin, can_move
from canhgac.api.search import scope_filter
from canhgac.core.alert import SOC_AGENCY, iso, severity_of, severity_rank
from canhgac.core.config import OpenSearchConfig, Settings
from canhgac.core.errors import Conflict, InvalidRequest, NotFound
from canhgac.core.index import Index, Versioned, translated
from canhgac.core.systems import systems_index
from opensearchpy import AsyncOpenSearch

MAX_WRITE_ATTEMPTS = 8
MAX_LISTED = 1000
_KW = {"type": "keyword"}
_DATE = {"type": "date"}
# The parts of a pinned event kept on the timeline (the event itself stays in its index).
PINNED_FIELDS = ("@timestamp", "message", "event", "host", "user", "source", "destination", "url", "process", "canhgac")

Change = Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]]


def now_iso() -> str:
    return iso(datetime.now(UTC))


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


def _entry(principal: Principal, kind: str, **details: Any) -> dict[str, Any]:
    return {
        "at": now_iso(),
        "by": principal.username,
        "kind": kind,
        **{k: v for k, v in details.items() if v is not None},
    }


def owners(alerts: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """(tenant, agencies) of a set of alerts: one agency owning them all is the tenant; else the SOC."""
    agencies: dict[str, None] = {}
    owning: set[str] = set()
    for alert in alerts:
        owner = alert.get("agency") or SOC_AGENCY
        owning.add(owner)
        for agency in [owner] if owner != SOC_AGENCY else alert.get("agencies") or []:
            agencies[agency] = None
    tenant = next(iter(owning)) if len(owning) == 1 and SOC_AGENCY not in owning else SOC_AGENCY
    return tenant, sorted(agencies)


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
            _entry(principal, "created"),
            _entry(principal, "alerts_added", alert_ids=[a["id"] for a in alerts], titles=_titles(alerts)),
        ],
        "system": _system(alerts),
        "detected_at": first_seen,
        "created_at": now,
        "created_by": principal.username,
        "updated_at": now,
    }
    await Index(client, cases_index(settings.opensearch, tenant)).put(
        doc["id"], doc, create=True, exists="case id taken; try again", refresh="wait_for"
    )
    return doc


def _titles(alerts: list[dict[str, Any]]) -> list[str]:
    return [str((a.get("rule") or {}).get("title") or a["id"]) for a in alerts]


def _system(alerts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The information system of the highest-level system among the alerts (alerts carry it)."""
    systems = [a["system"] for a in alerts if isinstance(a.get("system"), dict) and a["system"].get("id")]
    if not systems:
        return None
    best = max(systems, key=lambda s: int(s.get("security_level") or 0))
    return {"id": best.get("id"), "name": best.get("name"), "security_level": best.get("security_level")}


async def system_info(
    client: AsyncOpenSearch, cfg: OpenSearchConfig, system_id: str, agencies: list[str]
) -> dict[str, Any]:
    """The inventory's record of a system the case may name (one of the case's agencies owns it)."""
    doc = await Index(client, systems_index(cfg)).find(system_id)
    if doc is None or doc.get("agency") not in agencies:
        raise InvalidRequest(f"no system {system_id!r} among the case's agencies' systems")
    return {"id": system_id, "name": doc.get("name"), "security_level": doc.get("security_level")}


def update_change(principal: Principal, body: CaseUpdate, system: dict[str, Any] | None) -> Change:
    def apply(case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        changes = body.model_dump(mode="json", exclude_unset=True)
        updates: dict[str, Any] = {}
        for name in ("title", "description", "severity", "impact", "measures"):
            if name in changes:
                updates[name] = changes[name]
        if "assignee" in changes:
            updates["assignee"] = changes["assignee"] or None
        if system is not None:
            updates["system"] = system
        entries = []
        if "assignee" in updates and updates["assignee"] != case.get("assignee"):
            entries.append(_entry(principal, "assignee", assignee=updates["assignee"], previous=case.get("assignee")))
        others = sorted(k for k in updates if k != "assignee")
        if others:
            entries.append(_entry(principal, "updated", fields=others))
        updates["timeline"] = [*case.get("timeline", []), *entries]
        return updates, {"changed": sorted(changes), **{k: v for k, v in updates.items() if k != "timeline"}}

    return apply


def status_change(principal: Principal, to: CaseStatus, comment: str | None) -> Change:
    def apply(case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        current = case.get("status", CaseStatus.OPEN.value)
        if not can_move(current, to):
            raise Conflict(f"a case cannot go from {current} to {to.value}")
        now = now_iso()
        updates: dict[str, Any] = {"status": to.value}
        # Each clock stops the first time its milestone is reached; reopening does not restart it.
        if not case.get("acknowledged_at"):
            updates["acknowledged_at"] = now
        if to in (CaseStatus.CONTAINED, CaseStatus.CLOSED) and not case.get("contained_at"):
            updates["contained_at"] = now
        if to is CaseStatus.CLOSED:
            updates["closed_at"] = now
        elif case.get("closed_at"):
            updates["closed_at"] = None  # reopened: the close clock runs again
        entry = _entry(principal, "status", status=to.value, previous=current, text=comment)
        updates["timeline"] = [*case.get("timeline", []), entry]
        return updates, {"from": current, "to": to.value, "comment": comment}

    return apply


def comment_change(principal: Principal, text: str) -> Change:
    def apply(case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"timeline": [*case.get("timeline", []), _entry(principal, "comment", text=text)]}, {"text": text}

    return apply


def task_added(principal: Principal, title: str) -> Change:
    def apply(case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        task = {
            "id": uuid.uuid4().hex[:12],
            "title": title,
            "done": False,
            "created_at": now_iso(),
            "created_by": principal.username,
        }
        entry = _entry(principal, "task_added", task_id=task["id"], text=title)
        return {"tasks": [*case.get("tasks", []), task], "timeline": [*case.get("timeline", []), entry]}, {
            "task_id": task["id"],
            "title": title,
        }

    return apply


def task_done(principal: Principal, task_id: str) -> Change:
    def apply(case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        tasks = [dict(t) for t in case.get("tasks", [])]
        task = next((t for t in tasks if t.get("id") == task_id), None)
        if task is None:
            raise NotFound(f"no task {task_id} in this case")
        if task.get("done"):
            raise Conflict(f"task {task_id} is done already")
        task.update(done=True, done_at=now_iso(), done_by=principal.username)
        entry = _entry(principal, "task_done", task_id=task_id, text=task.get("title"))
        return {"tasks": tasks, "timeline": [*case.get("timeline", []), entry]}, {"task_id": task_id}

    return apply


def alerts_added(principal: Principal, alerts: list[dict[str, Any]]) -> Change:
    def apply(case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        new = [a for a in alerts if a["id"] not in case.get("alert_ids", [])]
        if not new:
            raise Conflict("these alerts are in the case already")
        tenant, agencies = owners(new)
        merged_agencies = sorted({*case.get("agencies", []), *agencies})
        if tenant != case.get("tenant") or (case.get("tenant") != SOC_AGENCY and len(merged_agencies) > 1):
            raise Conflict(
                f"these alerts belong to {', '.join(agencies) or SOC_AGENCY}, the case to {case.get('tenant')}: "
                "open a new case for alerts of several agencies"
            )
        entry = _entry(principal, "alerts_added", alert_ids=[a["id"] for a in new], titles=_titles(new))
        detected = min([case.get("detected_at") or now_iso(), *(str(a.get("first_seen") or now_iso()) for a in new)])
        return {
            "alert_ids": [*case.get("alert_ids", []), *(a["id"] for a in new)],
            "agencies": merged_agencies,
            "observables": observables.merge(case.get("observables", []), new),
            "detected_at": detected,
            "system": case.get("system") or _system(new),
            "timeline": [*case.get("timeline", []), entry],
        }, {"alert_ids": [a["id"] for a in new]}

    return apply


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


def event_pinned(principal: Principal, pin: EventPin, found: dict[str, Any]) -> Change:
    event = found["source"]

    def apply(case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        agency = (event.get("canhgac") or {}).get("agency")
        if agency not in case.get("agencies", []):
            raise Conflict(
                f"the event belongs to {agency}, not to the case's agencies ({', '.join(case.get('agencies', []))})"
            )
        if any(e.get("kind") == "event_pinned" and e.get("event_id") == pin.event_id for e in case.get("timeline", [])):
            raise Conflict(f"event {pin.event_id} is pinned already")
        snapshot = {k: event[k] for k in PINNED_FIELDS if k in event}
        entry = _entry(
            principal, "event_pinned", event_id=pin.event_id, index=found["index"], text=pin.note, event=snapshot
        )
        return {
            "observables": observables.merge(
                case.get("observables", []), [{**snapshot, "id": f"event:{pin.event_id}", "event": snapshot}]
            ),
            "timeline": [*case.get("timeline", []), entry],
        }, {"event_id": pin.event_id, "index": found["index"]}

    return apply


def report_sent(principal: Principal, comment: str | None) -> Change:
    def apply(case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        now = now_iso()
        entry = _entry(principal, "report_sent", text=comment)
        return {"report_sent_at": now, "timeline": [*case.get("timeline", []), entry]}, {"comment": comment}

    return apply


async def list_cases(
    client: AsyncOpenSearch, cfg: OpenSearchConfig, agency_scope: str | None, status: str | None, size: int
) -> tuple[int, list[dict[str, Any]]]:
    index = cases_pattern(cfg) if agency_scope is None else cases_index(cfg, agency_scope)
    filters = scope_filter("tenant", agency_scope)
    if status:
        filters.append({"term": {"status": status}})
    body = {
        "size": min(size, MAX_LISTED),
        "track_total_hits": True,
        "query": {"bool": {"filter": filters}},
        "sort": [{"created_at": {"order": "desc", "unmapped_type": "date"}}],
        "_source": {"excludes": ["timeline", "observables", "tasks"]},
    }
    result = await Index(client, index).search(body)
    return int(result["hits"]["total"]["value"]), [h["_source"] for h in result["hits"]["hits"]]


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _clock(start: datetime, secs: int, met: str | None, now: datetime) -> dict[str, Any]:
    due = start + timedelta(seconds=secs)
    stopped = _parse(met) if met else None
    return {"due_at": iso(due), "met_at": met, "breached": (stopped or now) > due}


def with_clocks(case: dict[str, Any], settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    """The case as the API shows it: SLA clocks and the report deadline computed at read time, so
    changing `cases.sla` applies to open cases at once."""
    now = now or datetime.now(UTC)
    opened = _parse(case["created_at"])
    deadlines = settings.cases.sla.for_severity(str(case.get("severity", "medium")))
    sla = {
        "acknowledge": _clock(opened, deadlines.acknowledge_secs, case.get("acknowledged_at"), now),
        "contain": _clock(opened, deadlines.contain_secs, case.get("contained_at"), now),
        "close": _clock(opened, deadlines.close_secs, case.get("closed_at"), now),
    }
    due = _parse(case.get("detected_at") or case["created_at"]) + timedelta(days=settings.cases.report.deadline_days)
    sent = case.get("report_sent_at")
    report = {"due_at": iso(due), "sent_at": sent, "overdue": (_parse(sent) if sent else now) > due}
    return {**case, "sla": sla, "report_deadline": report}
