"""Alert contract (topic canhgac.alerts.v1, index canhgac-alerts) and how matches become alerts.

Repeated matches of one rule with the same key (host, user, source address) within a window
collapse into one alert whose id is derived from rule id + key + window start. The id depends only
on the events, so a replay after a restart produces the same alert again (an update), never a
second one.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from canhgac.core.event import Event, get_path
from canhgac.core.ids import derived_id

LEVELS = ("informational", "low", "medium", "high", "critical")
LEVEL_SCORE = {"informational": 10, "low": 21, "medium": 47, "high": 73, "critical": 99}
MAX_EVENT_IDS = 100


class RuleLike(Protocol):
    id: str
    title: str
    level: str | None
    author: str | None
    tags: Any
    references: Any
    description: str | None


def parse_ts(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def group_key(event: Event) -> dict[str, str]:
    key = {}
    for name in ("host.name", "host.hostname", "user.name", "source.ip"):
        value = get_path(event, name)
        if isinstance(value, str | int) and value != "":
            key[name] = str(value)
    return key


def rule_block(rule: RuleLike) -> dict[str, Any]:
    return {
        "id": rule.id,
        "title": rule.title,
        "level": rule.level or "medium",
        "author": rule.author,
        "tags": list(rule.tags or ()),
        "references": list(rule.references or ()),
        "description": rule.description,
    }


@dataclass(slots=True)
class AlertState:
    alert: dict[str, Any]
    event_ids: list[str] = field(default_factory=list)


class AlertGrouper:
    """Keeps the open windows' alerts in memory (bounded) and folds new matches into them."""

    def __init__(self, window_secs: int = 600, max_open: int = 50_000) -> None:
        self.window_secs = window_secs
        self.max_open = max_open
        self._open: OrderedDict[str, AlertState] = OrderedDict()

    def add(self, rule: RuleLike, event: Event) -> dict[str, Any]:
        ts = parse_ts(event.get("@timestamp"))
        bucket = int(ts.timestamp()) // self.window_secs * self.window_secs
        key = group_key(event)
        alert_id = derived_id(rule.id, *(f"{k}={v}" for k, v in sorted(key.items())), str(bucket))
        event_id = str(get_path(event, "event.id") or "")
        state = self._open.get(alert_id)
        if state is None:
            state = AlertState(new_alert(alert_id, rule, event, key, ts))
            self._open[alert_id] = state
            if len(self._open) > self.max_open:
                self._open.popitem(last=False)
        else:
            self._open.move_to_end(alert_id)
        alert = state.alert
        if event_id and event_id in state.event_ids:
            return alert  # the same event seen again (redelivery): nothing changes
        if event_id and len(state.event_ids) < MAX_EVENT_IDS:
            state.event_ids.append(event_id)
        alert["count"] = alert.get("count", 0) + 1
        alert["event_ids"] = list(state.event_ids)
        first, last = parse_ts(alert["first_seen"]), parse_ts(alert["last_seen"])
        if ts < first:
            alert["first_seen"] = iso(ts)
        if ts > last:
            alert["last_seen"] = iso(ts)
        return alert


def new_alert(alert_id: str, rule: RuleLike, event: Event, key: dict[str, str], ts: datetime) -> dict[str, Any]:
    return alert_document(
        alert_id, rule_block(rule), event, group=key, first_seen=iso(ts), last_seen=iso(ts), count=0, event_ids=[]
    )


def alert_from_correlation(correlation: dict[str, Any], event: Event) -> dict[str, Any]:
    """A correlation alert (CorrelationAlert.to_dict()) in the alert contract, with the event that
    completed it as the snapshot."""
    rule = correlation["rule"]
    alert = alert_document(
        correlation["id"],
        {k: rule.get(k) for k in ("id", "title", "level", "author", "tags", "references", "description")},
        event,
        group={str(k): v for k, v in (correlation.get("correlation", {}).get("group") or {}).items()},
        first_seen=iso(parse_ts(correlation["first_seen"])),
        last_seen=iso(parse_ts(correlation["last_seen"])),
        count=correlation.get("event_count") or correlation.get("count") or 1,
        event_ids=list(correlation.get("event_ids") or []),
    )
    alert["correlation"] = correlation.get("correlation")
    return alert


def alert_document(
    alert_id: str,
    rule: dict[str, Any],
    event: Event,
    *,
    group: dict[str, Any],
    first_seen: str,
    last_seen: str,
    count: int,
    event_ids: list[str],
) -> dict[str, Any]:
    """The one shape every alert has (the alert contract); the event is the snapshot shown with it."""
    level = (rule.get("level") or "medium").lower()
    now = iso(datetime.now(UTC))
    return {
        "id": alert_id,
        "@timestamp": first_seen,
        "rule": rule,
        "severity": level if level in LEVELS else "medium",
        "severity_score": LEVEL_SCORE.get(level, 47),
        "first_seen": first_seen,
        "last_seen": last_seen,
        "count": count,
        "event_ids": event_ids,
        "event": event,
        "agency": get_path(event, "canhgac.agency"),
        "canhgac": {
            "source_id": get_path(event, "canhgac.source_id"),
            "dataset": get_path(event, "canhgac.dataset"),
            "group": group,
        },
        "host": {"name": get_path(event, "host.name") or get_path(event, "host.hostname")},
        "user": {"name": get_path(event, "user.name")},
        "source": {"ip": get_path(event, "source.ip")},
        "status": "new",
        "resolution": None,
        "assignee": None,
        "comments": [],
        "history": [{"at": now, "by": "detector", "action": "created"}],
        "created_at": now,
    }
