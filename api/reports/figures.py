"""The figures of a periodic report, read from the alerts index: one definition that both the
JSON route and the PDF use.

An alert counts in the period its `last_seen` falls in (start inclusive, end exclusive), the field
the queue's time filter uses, so a report's counts are the queue's for the same period and agency.
An agency's report counts the alerts that agency owns (`agency`); the province's counts every one.

Time to acknowledge: from `created_at` (else `@timestamp`) to the first status change in the
alert's history (acknowledging, taking it on or closing it directly). Time to close: to the first
change to `closed`. Median and 90th percentile (nearest rank) over the alerts of the period that had
one; alerts still without one are counted apart.

Sources silent and coverage gaps are the alerts Canhgac raises for them (source health's
`canhgac-source-silent`, per-host silence's `canhgac-host-silent`, compliance coverage's
`canhgac-coverage-missing`) that were open at some moment of the period: raised before its end and
not cleared before its start.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from canhgac.api.alerts.service import AGENCY_FIELD
from canhgac.api.search import run_search
from canhgac.core.config import Settings
from canhgac.core.errors import InvalidRequest
from opensearchpy import AsyncOpenSearch

PeriodKind = Literal["daily", "weekly", "monthly"]
SEVERITIES = ("critical", "high", "medium", "low", "informational")
# The rule ids of the alerts Canhgac raises itself for silence and coverage (pipeline/source_health.py,
# pipeline/host_silence.py, core/compliance.py); written out here because the API imports no stage.
SILENCE_RULES = ("canhgac-source-silent", "canhgac-host-silent")
COVERAGE_RULE = "canhgac-coverage-missing"
_PAGE = 1000


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    first_day: date  # local
    last_day: date  # local, inclusive
    start: datetime  # local midnight of first_day, aware
    end: datetime  # local midnight after last_day, aware (exclusive)

    @property
    def key(self) -> str:
        return f"{self.kind}-{self.first_day.isoformat()}"


def period_of(kind: PeriodKind, day: date, timezone: str) -> Period:
    """The daily, weekly (Monday-Sunday) or monthly period that contains `day`."""
    if not 1970 <= day.year <= 9998:
        raise InvalidRequest("day: a report's period lies between the years 1970 and 9998")
    if kind == "daily":
        first, last = day, day
    elif kind == "weekly":
        first = day - timedelta(days=day.weekday())
        last = first + timedelta(days=6)
    elif kind == "monthly":
        first = day.replace(day=1)
        last = day.replace(day=calendar.monthrange(day.year, day.month)[1])
    else:
        raise InvalidRequest(f"unknown period {kind!r}")
    zone = ZoneInfo(timezone)
    start = datetime(first.year, first.month, first.day, tzinfo=zone)
    after = last + timedelta(days=1)
    return Period(kind, first, last, start, datetime(after.year, after.month, after.day, tzinfo=zone))


def last_closed_period(kind: PeriodKind, today: date, timezone: str) -> Period:
    """The newest period of `kind` that ended before `today` (local)."""
    return period_of(kind, period_of(kind, today, timezone).first_day - timedelta(days=1), timezone)


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (`share` 0.5 = median, 0.9 = p90); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def durations(alert: dict[str, Any]) -> tuple[float | None, float | None]:
    """Seconds from raising to the first status change, and to the first closing (None: not yet)."""
    raised = _parse(alert.get("created_at")) or _parse(alert.get("@timestamp"))
    if raised is None:
        return None, None
    acked = closed = None
    for entry in alert.get("history") or []:
        if not isinstance(entry, dict) or entry.get("action") != "status":
            continue
        at = _parse(entry.get("at"))
        if at is None:
            continue
        acked = acked or at
        if entry.get("to") == "closed":
            closed = closed or at
    if closed is None and alert.get("status") == "closed":
        closed = _parse(alert.get("closed_at"))
        acked = acked or closed

    def secs(moment: datetime | None) -> float | None:
        return max(0.0, (moment - raised).total_seconds()) if moment and raised else None

    return secs(acked), secs(closed)


def _bounds(period: Period) -> dict[str, str]:
    return {"gte": period.start.isoformat(), "lt": period.end.isoformat()}


def _scope(agency: str | None) -> list[dict[str, Any]]:
    return [{"term": {AGENCY_FIELD: agency}}] if agency else []


def _open_during(period: Period, rule_ids: tuple[str, ...], agency: str | None) -> dict[str, Any]:
    return {
        "bool": {
            "filter": [
                {"terms": {"rule.id": list(rule_ids)}},
                {"range": {"@timestamp": {"lt": period.end.isoformat()}}},
                *_scope(agency),
            ],
            "should": [
                {"bool": {"must_not": {"exists": {"field": "cleared_at"}}}},
                {"range": {"cleared_at": {"gte": period.start.isoformat()}}},
            ],
            "minimum_should_match": 1,
        }
    }


async def _listed(
    client: AsyncOpenSearch, index: str, query: dict[str, Any], size: int
) -> tuple[int, list[dict[str, Any]]]:
    body = {
        "size": size,
        "query": query,
        "track_total_hits": True,
        "sort": [{"@timestamp": {"order": "asc", "unmapped_type": "date"}}],
        "_source": ["id", "@timestamp", "cleared_at", "agency", "rule", "host", "canhgac", "system", "status"],
    }
    result = await run_search(client, index, body)
    return int(result["hits"]["total"]["value"]), [h["_source"] for h in result["hits"]["hits"]]


def _silence_row(alert: dict[str, Any]) -> dict[str, Any]:
    origin = alert.get("canhgac") or {}
    host = (alert.get("host") or {}).get("name")
    return {
        "source_id": origin.get("source_id") or "",
        "host": host if (alert.get("rule") or {}).get("id") == "canhgac-host-silent" else None,
        "agency": alert.get("agency"),
        "since": alert.get("@timestamp"),
        "cleared_at": alert.get("cleared_at"),
    }


def _gap_row(alert: dict[str, Any]) -> dict[str, Any]:
    system = alert.get("system") or {}
    group = (alert.get("canhgac") or {}).get("group") or {}
    return {
        "system": system.get("name") or system.get("id") or group.get("system.id") or "",
        "category": group.get("canhgac.log_category") or (alert.get("rule") or {}).get("title") or "",
        "agency": alert.get("agency"),
        "since": alert.get("@timestamp"),
        "cleared_at": alert.get("cleared_at"),
    }


async def report_figures(
    client: AsyncOpenSearch, settings: Settings, period: Period, agency: str | None
) -> dict[str, Any]:
    cfg = settings.reports
    index = settings.opensearch.alerts_index
    in_period = {"bool": {"filter": [{"range": {"last_seen": _bounds(period)}}, *_scope(agency)]}}
    if period.kind == "daily":
        histogram = {"field": "last_seen", "fixed_interval": "1h"}
    else:
        histogram = {"field": "last_seen", "calendar_interval": "1d"}
    body = {
        "size": 0,
        "query": in_period,
        "track_total_hits": True,
        "aggs": {
            "severity": {"terms": {"field": "severity", "size": 10}},
            "status": {"terms": {"field": "status", "size": 10}},
            "systems": {
                "terms": {"field": "system.id", "size": 50},
                "aggs": {
                    "name": {"terms": {"field": "system.name", "size": 1}},
                    "level": {"terms": {"field": "system.security_level", "size": 1}},
                },
            },
            "no_system": {"missing": {"field": "system.id"}},
            "rules": {
                "terms": {"field": "rule.id", "size": cfg.top_rules},
                "aggs": {
                    "title": {"terms": {"field": "rule.title", "size": 1}},
                    "severity": {"terms": {"field": "severity", "size": 1}},
                },
            },
            "over_time": {
                "date_histogram": {
                    **histogram,
                    "time_zone": settings.timezone,
                    "min_doc_count": 0,
                    "extended_bounds": {
                        "min": int(period.start.timestamp() * 1000),
                        "max": int(period.end.timestamp() * 1000) - 1,
                    },
                }
            },
        },
        "timeout": "30s",
    }
    result = await run_search(client, index, body)
    aggs = result.get("aggregations", {})
    by_severity = {s: 0 for s in SEVERITIES}
    for bucket in aggs.get("severity", {}).get("buckets", []):
        by_severity[str(bucket["key"])] = int(bucket["doc_count"])
    by_status = {str(b["key"]): int(b["doc_count"]) for b in aggs.get("status", {}).get("buckets", [])}
    systems = []
    for bucket in aggs.get("systems", {}).get("buckets", []):
        names, levels = bucket["name"]["buckets"], bucket["level"]["buckets"]
        systems.append(
            {
                "id": str(bucket["key"]),
                "name": str(names[0]["key"]) if names else str(bucket["key"]),
                "security_level": int(levels[0]["key"]) if levels else None,
                "count": int(bucket["doc_count"]),
            }
        )
    rules = []
    for bucket in aggs.get("rules", {}).get("buckets", []):
        titles, severities = bucket["title"]["buckets"], bucket["severity"]["buckets"]
        rules.append(
            {
                "id": str(bucket["key"]),
                "title": str(titles[0]["key"]) if titles else str(bucket["key"]),
                "severity": str(severities[0]["key"]) if severities else None,
                "count": int(bucket["doc_count"]),
            }
        )
    over_time = [
        {"start": b.get("key_as_string") or b["key"], "count": int(b["doc_count"])}
        for b in aggs.get("over_time", {}).get("buckets", [])
    ]
    total = int(result["hits"]["total"]["value"])
    timing = await _timing(client, index, in_period, cfg.max_alerts_timed)
    silent_total, silent = await _listed(client, index, _open_during(period, SILENCE_RULES, agency), cfg.max_listed)
    gaps_total, gaps = await _listed(client, index, _open_during(period, (COVERAGE_RULE,), agency), cfg.max_listed)
    return {
        "period": {
            "kind": period.kind,
            "first_day": period.first_day.isoformat(),
            "last_day": period.last_day.isoformat(),
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "timezone": settings.timezone,
        },
        "agency": agency,
        "alerts_total": total,
        "by_severity": by_severity,
        "by_status": by_status,
        "by_system": systems,
        "without_system": int(aggs.get("no_system", {}).get("doc_count", 0)),
        "top_rules": rules,
        "over_time": over_time,
        **timing,
        "silent_total": silent_total,
        "silent": [_silence_row(a) for a in silent],
        "coverage_gaps_total": gaps_total,
        "coverage_gaps": [_gap_row(a) for a in gaps],
    }


async def _timing(client: AsyncOpenSearch, index: str, query: dict[str, Any], cap: int) -> dict[str, Any]:
    """Acknowledge and close times over the period's alerts (the newest `cap` of them)."""
    ack: list[float] = []
    close: list[float] = []
    seen = 0
    after: list[Any] | None = None
    while seen < cap:
        body: dict[str, Any] = {
            "size": min(_PAGE, cap - seen),
            "query": query,
            "sort": [
                {"last_seen": {"order": "desc", "unmapped_type": "date"}},
                {"id": {"order": "asc", "unmapped_type": "keyword"}},
            ],
            "_source": ["created_at", "@timestamp", "status", "closed_at", "history"],
        }
        if after is not None:
            body["search_after"] = after
        hits = (await run_search(client, index, body))["hits"]["hits"]
        for hit in hits:
            to_ack, to_close = durations(hit["_source"])
            if to_ack is not None:
                ack.append(to_ack)
            if to_close is not None:
                close.append(to_close)
        seen += len(hits)
        if len(hits) < body["size"]:
            break
        after = hits[-1]["sort"]
    return {
        "timed_alerts": seen,
        "acknowledged": len(ack),
        "closed": len(close),
        "ack_median_secs": percentile(ack, 0.5),
        "ack_p90_secs": percentile(ack, 0.9),
        "close_median_secs": percentile(close, 0.5),
        "close_p90_secs": percentile(close, 0.9),
    }
