"""Alerts: queries (always limited to the caller's agency scope) and triage changes.

An agency viewer sees its agency's alerts and the SOC's cross-agency alerts its agency is involved
in (`agencies`), the latter only with what concerns its agency (`as_seen_by`): its own events, no
other agency's snapshot, event ids or source, and not the SOC's comments. Counts and histograms
for an agency viewer cover its own agency's alerts only.

Triage writes use the stored document's sequence number, like the alert indexer does for its
count/last_seen updates, so neither side overwrites the other: on a conflict we read and retry.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from canhgac.api.alerts.models import AlertSearch, BulkAction
from canhgac.api.auth.models import Principal
from canhgac.api.query_guard import lucene
from canhgac.api.search import decode_cursor, encode_cursor, run_search, scope_filter, time_range
from canhgac.core.alert import Resolution, Status, can_transition
from canhgac.core.config import Settings
from canhgac.core.errors import CanhgacError, Conflict, InvalidRequest, NotFound
from canhgac.core.event import get_path
from canhgac.core.index import Index, Versioned, translated
from opensearchpy import AsyncOpenSearch

AGENCY_FIELD = "agency"
AGENCIES_FIELD = "agencies"
MAX_WRITE_ATTEMPTS = 8
SORT_FIELDS = {
    "last_seen": ("last_seen", "date"),
    "first_seen": ("first_seen", "date"),
    "severity": ("severity_score", "long"),
    "count": ("count", "long"),
    "status": ("status", "keyword"),
    # rule weight × system level × indicator confidence (canhgac.core.systems), set at indexing
    "priority": ("priority", "float"),
}
# What the queue and the live stream show; the detail adds the event snapshot and the rest.
SUMMARY_FIELDS = [
    "id",
    "rule",
    "severity",
    "severity_score",
    "priority",
    "system",
    "first_seen",
    "last_seen",
    "count",
    "agency",
    "host",
    "user",
    "source",
    "status",
    "resolution",
    "assignee",
    "updated_at",
    "created_at",
]

Change = Callable[[dict[str, Any]], dict[str, Any]]


def alert_scope(agency_scope: str | None) -> list[dict[str, Any]]:
    """The filter on alerts an agency viewer may see: its agency's, and SOC alerts involving it."""
    if agency_scope is None:
        return []
    involved = [{"term": {AGENCY_FIELD: agency_scope}}, {"term": {AGENCIES_FIELD: agency_scope}}]
    return [{"bool": {"should": involved, "minimum_should_match": 1}}]


def own_alerts_scope(agency_scope: str | None) -> list[dict[str, Any]]:
    """Only the agency's own alerts: for counts and top values, which must not summarise other
    agencies' parts of SOC alerts."""
    return scope_filter(AGENCY_FIELD, agency_scope)


def is_visible(alert: dict[str, Any], agency_scope: str | None) -> bool:
    if agency_scope is None:
        return True
    return alert.get(AGENCY_FIELD) == agency_scope or agency_scope in (alert.get(AGENCIES_FIELD) or ())


def is_own(alert: dict[str, Any], agency_scope: str | None) -> bool:
    """Whether the caller may change the alert: SOC staff any, an agency analyst its agency's own
    only (a SOC alert its agency is merely involved in stays read-only, and is "not found" to it)."""
    return agency_scope is None or alert.get(AGENCY_FIELD) == agency_scope


def as_seen_by(
    alert: dict[str, Any], agency_scope: str | None, own_event_ids: list[str] | None = None
) -> dict[str, Any]:
    """The alert as the caller may see it. Another owner's (the SOC's) alert shown to an agency
    viewer keeps only this agency's part: its own event ids (`own_event_ids`, none when unknown),
    the snapshot only if it is this agency's event, no source or dataset, no comments."""
    if agency_scope is None or alert.get(AGENCY_FIELD) == agency_scope:
        return alert
    seen = dict(alert)
    seen[AGENCIES_FIELD] = [agency_scope]
    if "event_ids" in seen:
        seen["event_ids"] = list(own_event_ids or [])
    snapshot = seen.get("event")
    if isinstance(snapshot, dict) and get_path(snapshot, "canhgac.agency") != agency_scope:
        seen["event"] = None
    if "comments" in seen:
        seen["comments"] = []
    if isinstance(seen.get("canhgac"), dict):
        seen["canhgac"] = {**seen["canhgac"], "source_id": None, "dataset": None}
    return seen


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def list_filters(
    *,
    agency_scope: str | None,
    severity: list[str] | None = None,
    rule_id: str | None = None,
    status: list[str] | None = None,
    agency: str | None = None,
    host: str | None = None,
    user: str | None = None,
    assignee: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    source_ip: str | None = None,
) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = alert_scope(agency_scope)
    if severity:
        filters.append({"terms": {"severity": severity}})
    if rule_id:
        filters.append({"term": {"rule.id": rule_id}})
    if status:
        filters.append({"terms": {"status": status}})
    if agency:
        filters.append({"term": {AGENCY_FIELD: agency}})
    if host:
        filters.append({"term": {"host.name": host}})
    if user:
        filters.append({"term": {"user.name": user}})
    if assignee:
        filters.append({"term": {"assignee": assignee}})
    if source_ip:
        filters.append({"term": {"source.ip": source_ip}})
    rng = time_range("last_seen", start, end)
    if rng:
        filters.append(rng)
    return filters


async def list_alerts(
    client: AsyncOpenSearch,
    index: str,
    filters: list[dict[str, Any]],
    *,
    sort: str = "last_seen",
    order: str = "desc",
    size: int = 50,
    cursor: str | None = None,
    query: dict[str, Any] | None = None,
    agency_scope: str | None = None,
) -> dict[str, Any]:
    """A page of summaries; `agency_scope` (the caller's) decides what each one shows."""
    field, kind = SORT_FIELDS[sort]
    body: dict[str, Any] = {
        "query": {"bool": {"must": [query or {"match_all": {}}], "filter": filters}},
        "sort": [
            {field: {"order": order, "unmapped_type": kind}},
            {"last_seen": {"order": "desc", "unmapped_type": "date"}},
            {"id": {"order": "asc", "unmapped_type": "keyword"}},
        ],
        "size": size,
        "track_total_hits": True,
        "_source": {"excludes": ["event", "history", "comments"]},
        "timeout": "10s",  # as every other search: a costly query returns what it found by then
    }
    if cursor:
        body["search_after"] = decode_cursor(cursor)
    result = await run_search(client, index, body)
    hits = result["hits"]["hits"]
    return {
        "total": result["hits"]["total"]["value"],
        "items": [as_seen_by(h["_source"], agency_scope) for h in hits],
        "next": encode_cursor(hits[-1]["sort"]) if len(hits) == size else None,
    }


# The queue's groups: the field counted, and the field that names a group (a rule by its title).
GROUP_FIELDS = {"rule": ("rule.id", "rule.title"), "host": ("host.name", None), "agency": (AGENCY_FIELD, None)}


async def group_alerts(
    client: AsyncOpenSearch, index: str, filters: list[dict[str, Any]], by: str, size: int
) -> dict[str, Any]:
    """How many alerts matching `filters` each rule, host or agency has (most first), and how many
    alerts are outside the groups listed (`other`) or have no value for the field (`missing`)."""
    field, label_field = GROUP_FIELDS[by]
    terms: dict[str, Any] = {"terms": {"field": field, "size": size}}
    if label_field:
        terms["aggs"] = {"label": {"terms": {"field": label_field, "size": 1}}}
    body = {
        "size": 0,
        "query": {"bool": {"filter": filters}},
        "track_total_hits": True,
        "aggs": {"groups": terms, "missing": {"missing": {"field": field}}},
        "timeout": "10s",
    }
    result = await run_search(client, index, body)
    aggs = result.get("aggregations", {})
    groups = []
    for bucket in aggs.get("groups", {}).get("buckets", []):
        labels = bucket.get("label", {}).get("buckets", [])
        key = str(bucket["key"])
        groups.append({"key": key, "label": str(labels[0]["key"]) if labels else key, "count": bucket["doc_count"]})
    return {
        "by": by,
        "total": result["hits"]["total"]["value"],
        "groups": groups,
        "other": aggs.get("groups", {}).get("sum_other_doc_count", 0),
        "missing": aggs.get("missing", {}).get("doc_count", 0),
    }


async def search_alerts(
    client: AsyncOpenSearch, settings: Settings, request: AlertSearch, agency_scope: str | None
) -> dict[str, Any]:
    filters = list_filters(agency_scope=agency_scope, start=request.start, end=request.end)
    query = lucene(request.query, settings.api.max_query_chars, "rule.title")
    return await list_alerts(
        client,
        settings.opensearch.alerts_index,
        filters,
        size=request.size,
        cursor=request.cursor,
        query=query,
        agency_scope=agency_scope,
    )


# Alert ids are derived hex digests (core.alert.alert_id); anything else cannot name an alert, and
# OpenSearch would refuse some of it (a 400 is not "unreachable"), so it is "not found" up front.
_ALERT_ID = re.compile(r"[\w.:-]{1,256}")


async def _read(client: AsyncOpenSearch, index: str, alert_id: str, agency_scope: str | None) -> Versioned:
    missing = f"alert {alert_id} not found"
    if not _ALERT_ID.fullmatch(alert_id):
        raise NotFound(missing)
    found = await Index(client, index).get_versioned(alert_id, missing=missing)
    if not is_visible(found.source, agency_scope):
        raise NotFound(missing)  # another agency's alert does not exist for you
    return found


async def get_alert(client: AsyncOpenSearch, index: str, alert_id: str, agency_scope: str | None) -> dict[str, Any]:
    """The stored alert, if the caller may see it (redact it with `as_seen_by` before showing it)."""
    return (await _read(client, index, alert_id, agency_scope)).source


async def change_alert(
    client: AsyncOpenSearch, index: str, alert_id: str, agency_scope: str | None, change: Change
) -> dict[str, Any]:
    """Read, apply `change` (returns the fields to set), write with if_seq_no; retry on conflict."""
    for _ in range(MAX_WRITE_ATTEMPTS):
        current = await _read(client, index, alert_id, agency_scope)
        if not is_own(current.source, agency_scope):
            raise NotFound(f"alert {alert_id} not found")
        updates = change(current.source)
        try:
            await Index(client, index).update(alert_id, updates, version=current, refresh="wait_for")
        except Conflict:
            continue  # the pipeline or another analyst wrote meanwhile: read again
        return current.source | updates
    raise Conflict("the alert kept changing while being updated; try again")


async def change_alerts(
    client: AsyncOpenSearch, index: str, alert_ids: list[str], agency_scope: str | None, change: Change
) -> dict[str, dict[str, Any] | CanhgacError]:
    """`change_alert` for many alerts in a few requests: one mget and one _bulk of conditional
    updates (if_seq_no) per round, one refresh at the end; the items that conflicted are read and
    tried again. Each distinct id, in the order asked, maps to the alert as written or to the
    error that stopped it."""
    order = list(dict.fromkeys(alert_ids))
    results: dict[str, dict[str, Any] | CanhgacError] = {
        i: NotFound(f"alert {i} not found") for i in order if not _ALERT_ID.fullmatch(i)
    }
    pending = [i for i in order if i not in results]
    for _ in range(MAX_WRITE_ATTEMPTS):
        if not pending:
            break
        with translated():
            found = await client.mget(index=index, body={"ids": pending})
        actions: list[dict[str, Any]] = []
        written: dict[str, dict[str, Any]] = {}
        for doc in found.get("docs", []):
            alert_id = str(doc["_id"])
            if not doc.get("found") or not is_own(doc["_source"], agency_scope):
                results[alert_id] = NotFound(f"alert {alert_id} not found")
                continue
            try:
                updates = change(doc["_source"])
            except CanhgacError as exc:
                results[alert_id] = exc
                continue
            version = {"if_seq_no": doc["_seq_no"], "if_primary_term": doc["_primary_term"]}
            actions += [{"update": {"_id": alert_id, **version}}, {"doc": updates}]
            written[alert_id] = doc["_source"] | updates
        if not actions:
            break
        with translated():
            answer = await client.bulk(index=index, body=actions, refresh="wait_for")
        pending = []
        for item in answer.get("items", []):
            outcome = item.get("update", {})
            alert_id = str(outcome.get("_id"))
            if outcome.get("status") == 409:
                pending.append(alert_id)  # the pipeline or another analyst wrote meanwhile: read again
            elif outcome.get("error"):
                error = outcome["error"]
                reason = error.get("reason") if isinstance(error, dict) else error
                results[alert_id] = Conflict(f"not written: {reason}")
            else:
                results[alert_id] = written[alert_id]
    for alert_id in pending:
        results[alert_id] = Conflict("the alert kept changing while being updated; try again")
    return {alert_id: results[alert_id] for alert_id in order if alert_id in results}


def _entry(principal: Principal, action: str, **details: Any) -> dict[str, Any]:
    return {
        "at": now_iso(),
        "by": principal.username,
        "action": action,
        **{k: v for k, v in details.items() if v is not None},
    }


def status_change(principal: Principal, status: str, resolution: str | None, comment: str | None) -> Change:
    def apply(alert: dict[str, Any]) -> dict[str, Any]:
        current = alert.get("status") or Status.NEW
        if status == current:
            raise Conflict(f"alert is already {status}")
        if not can_transition(current, status):
            raise Conflict(f"an alert cannot go from {current} to {status}")
        if status == Status.CLOSED and resolution is None:
            raise InvalidRequest(f"closing needs a resolution: {', '.join(Resolution)}")
        now = now_iso()
        history = [
            *(alert.get("history") or []),
            _entry(principal, "status", **{"from": current, "to": status, "resolution": resolution}),
        ]
        updates: dict[str, Any] = {
            "status": status,
            "resolution": resolution if status == Status.CLOSED else None,
            "updated_at": now,
            "history": history,
        }
        if status == Status.CLOSED:
            updates["closed_at"] = now
            updates["closed_by"] = principal.username
        if status == Status.ACKNOWLEDGED and not alert.get("assignee"):
            updates["assignee"] = principal.username  # who acknowledges, owns it until reassigned
            history.append(_entry(principal, "assign", **{"from": None, "to": principal.username}))
        if comment:
            updates["comments"] = [*(alert.get("comments") or []), _comment(principal, comment)]
            history.append(_entry(principal, "comment"))
        return updates

    return apply


def assignee_change(principal: Principal, assignee: str | None) -> Change:
    def apply(alert: dict[str, Any]) -> dict[str, Any]:
        return {
            "assignee": assignee,
            "updated_at": now_iso(),
            "history": [
                *(alert.get("history") or []),
                _entry(principal, "assign", **{"from": alert.get("assignee"), "to": assignee}),
            ],
        }

    return apply


def _comment(principal: Principal, text: str) -> dict[str, Any]:
    return {"at": now_iso(), "by": principal.username, "text": text}


def comment_added(principal: Principal, text: str) -> Change:
    def apply(alert: dict[str, Any]) -> dict[str, Any]:
        return {
            "comments": [*(alert.get("comments") or []), _comment(principal, text)],
            "updated_at": now_iso(),
            "history": [*(alert.get("history") or []), _entry(principal, "comment")],
        }

    return apply


def bulk_change(principal: Principal, action: BulkAction) -> Change:
    def apply(alert: dict[str, Any]) -> dict[str, Any]:
        updates: dict[str, Any] = {}
        if action.status is not None:
            updates |= status_change(principal, action.status, action.resolution, None)(alert)
        merged = alert | updates
        if action.assignee is not None or action.unassign:
            updates |= assignee_change(principal, None if action.unassign else action.assignee)(merged)
            merged = alert | updates
        if action.comment:
            updates |= comment_added(principal, action.comment)(merged)
        return updates

    return apply
