"""Entity pages: one host, user or IP address across events and alerts, in the caller's agency
scope. Which fields name an entity is written once here (`FIELDS`)."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from typing import Any

from canhgac.api.alerts import service as alerts
from canhgac.api.events.service import AGENCY_FIELD, TIME_FIELD, events_pattern
from canhgac.api.query_guard import histogram_interval
from canhgac.api.search import run_search, scope_filter
from canhgac.core.config import Settings
from canhgac.core.errors import InvalidRequest
from opensearchpy import AsyncOpenSearch

# kind -> (event fields, alert fields): an event or alert names the entity in any of them.
FIELDS: dict[str, tuple[list[str], list[str]]] = {
    "host": (["host.name"], ["host.name"]),
    "user": (["user.name"], ["user.name"]),
    "ip": (["source.ip", "destination.ip", "client.ip", "server.ip", "host.ip"], ["source.ip"]),
}
TOP_SIZE = 10
ALERTS_SHOWN = 50


def _any_of(fields: list[str], value: str) -> dict[str, Any]:
    return {"bool": {"should": [{"term": {f: value}} for f in fields], "minimum_should_match": 1}}


def check_value(kind: str, value: str) -> str:
    if kind == "ip":
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise InvalidRequest(f"not an IP address: {value}") from None
    return value


async def entity(
    client: AsyncOpenSearch, settings: Settings, kind: str, value: str, days: int, agency_scope: str | None
) -> dict[str, Any]:
    value = check_value(kind, value)
    event_fields, alert_fields = FIELDS[kind]
    end = datetime.now(UTC)
    start = end - timedelta(days=days)
    interval = histogram_interval(start, end, settings.api.max_buckets, None)
    query = {
        "bool": {
            "filter": [
                _any_of(event_fields, value),
                {"range": {TIME_FIELD: {"gte": start.isoformat(), "lte": end.isoformat()}}},
                *scope_filter(AGENCY_FIELD, agency_scope),
            ]
        }
    }
    body = {
        "size": 0,
        "query": query,
        "track_total_hits": True,
        "timeout": "10s",
        "aggs": {
            "first": {"min": {"field": TIME_FIELD}},
            "last": {"max": {"field": TIME_FIELD}},
            "agencies": {"terms": {"field": AGENCY_FIELD, "size": TOP_SIZE}},
            "sources": {"terms": {"field": "canhgac.source_id", "size": TOP_SIZE}},
            "datasets": {"terms": {"field": "event.dataset", "size": TOP_SIZE}},
            "over_time": {
                "date_histogram": {
                    "field": TIME_FIELD,
                    "fixed_interval": f"{interval}s",
                    "min_doc_count": 0,
                    "extended_bounds": {"min": start.isoformat(), "max": end.isoformat()},
                }
            },
        },
    }
    result = await run_search(client, events_pattern(settings), body)
    aggs = result.get("aggregations", {})

    def terms(name: str) -> list[dict[str, Any]]:
        return [{"value": b["key"], "count": b["doc_count"]} for b in aggs.get(name, {}).get("buckets", [])]

    def moment(name: str) -> str | None:
        found = aggs.get(name, {})
        return found.get("value_as_string") if found.get("value") is not None else None

    filters = [*alerts.list_filters(agency_scope=agency_scope), _any_of(alert_fields, value)]
    alert_page = await alerts.list_alerts(
        client, settings.opensearch.alerts_index, filters, size=ALERTS_SHOWN, agency_scope=agency_scope
    )
    return {
        "kind": kind,
        "value": value,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "event_fields": event_fields,
        "alert_fields": alert_fields,
        "events": {
            "total": result["hits"]["total"]["value"],
            "first_seen": moment("first"),
            "last_seen": moment("last"),
            "interval_secs": interval,
            "buckets": [
                {"t": b.get("key_as_string") or b["key"], "count": b["doc_count"]}
                for b in aggs.get("over_time", {}).get("buckets", [])
            ],
            "agencies": terms("agencies"),
            "sources": terms("sources"),
            "datasets": terms("datasets"),
        },
        "alerts": alert_page,
    }
