"""How rule matches and correlations become alerts (the contract itself: canhgac.core.alert).

Repeated matches of one rule in one agency with the same key (host, user, source address) within a
window collapse into one alert whose id is rule id + agency + key + window start
(`core.alert.alert_id`). The id depends only on the events, so a replay after a restart produces
the same alert again (an update), never a second one; the same attack in two agencies gives two.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from canhgac.core.alert import (
    DEFAULT_SEVERITY,
    Alert,
    AlertRule,
    CorrelationInfo,
    IndicatorInfo,
    RuleLike,
    alert_id,
    build_alert,
    iso,
)
from canhgac.core.event import Event, get_path

MAX_EVENT_IDS = 100
# A rule's matches on one agency and group key (host, user, address) fold into one alert per window
# of event time, aligned to the epoch: matches either side of a boundary are two alerts.
ALERT_WINDOW_SECS = 600
DETECTOR = "detector"  # `by` of the history entry that creates the alert
_RULE_FIELDS = ("id", "title", "level", "author", "tags", "references", "description")


def parse_ts(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.now(UTC)


def group_key(event: Event) -> dict[str, str]:
    key = {}
    for name in ("host.name", "host.hostname", "user.name", "source.ip"):
        value = get_path(event, name)
        if isinstance(value, str | int) and value != "":
            key[name] = str(value)
    return key


def agency_of(event: Event) -> str | None:
    agency = get_path(event, "canhgac.agency")
    return str(agency) if isinstance(agency, str) and agency else None


@dataclass(slots=True)
class AlertState:
    alert: dict[str, Any]  # the alert's document, updated in place as matches fold into it
    event_ids: list[str] = field(default_factory=list)


class AlertGrouper:
    """Keeps the open windows' alerts in memory (bounded) and folds new matches into them."""

    def __init__(self, window_secs: int = ALERT_WINDOW_SECS, max_open: int = 50_000) -> None:
        self.window_secs = window_secs
        self.max_open = max_open
        self._open: OrderedDict[str, AlertState] = OrderedDict()
        self._rule_blocks: dict[str, tuple[RuleLike, AlertRule]] = {}  # rule id -> (rule, its block)

    def add(self, rule: RuleLike, event: Event, indicator: IndicatorInfo | None = None) -> dict[str, Any]:
        """Fold one match into its alert. `indicator`: a threat-intel match (the rule stands for the
        indicator, so one indicator's hits group as one rule's matches do)."""
        ts = parse_ts(event.get("@timestamp"))
        bucket = int(ts.timestamp()) // self.window_secs * self.window_secs
        key = group_key(event)
        this_id = alert_id(rule.id, agency_of(event), key, str(bucket))
        event_id = str(get_path(event, "event.id") or "")
        state = self._open.get(this_id)
        if state is None:
            state = AlertState(new_alert(this_id, self._rule_block(rule), event, key, ts, indicator).to_document())
            self._open[this_id] = state
            if len(self._open) > self.max_open:
                self._open.popitem(last=False)
        else:
            self._open.move_to_end(this_id)
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

    def _rule_block(self, rule: RuleLike) -> AlertRule:
        """The rule's block, made once per rule (a reloaded rule is a new object: made again)."""
        cached = self._rule_blocks.get(rule.id)
        if cached is None or cached[0] is not rule:
            cached = self._rule_blocks[rule.id] = (rule, AlertRule.of(rule))
        return cached[1]


def new_alert(
    this_id: str,
    rule: AlertRule,
    event: Event,
    key: dict[str, str],
    ts: datetime,
    indicator: IndicatorInfo | None = None,
) -> Alert:
    """A rule alert before any match is counted into it (the grouper counts the first one)."""
    return build_alert(
        alert_id=this_id,
        rule=rule,
        agency=agency_of(event),
        created_by=DETECTOR,
        first_seen=ts,
        last_seen=ts,
        count=0,
        snapshot=event,
        group=key,
        indicator=indicator,
    )


def alert_from_correlation(correlation: dict[str, Any], event: Event) -> dict[str, Any]:
    """A correlation alert (CorrelationAlert.to_dict()) in the alert contract, with the event that
    completed it as the snapshot ({} when a window closed without one).

    The agency is the correlation's, not the snapshot's: a cross-agency correlation belongs to the
    SOC, and its host, user and source address are only those its group shares (the snapshot may
    be any involved agency's event)."""
    rule = correlation["rule"]
    info = dict(correlation.get("correlation") or {})
    group = {str(k): v for k, v in (info.get("group") or {}).items()}
    cross = bool(info.get("cross_agency"))
    alert = build_alert(
        alert_id=correlation["id"],
        rule=AlertRule(**{k: rule.get(k) for k in _RULE_FIELDS} | {"level": rule.get("level") or DEFAULT_SEVERITY}),
        agency=correlation.get("agency"),
        agencies=list(correlation.get("agencies") or []),
        created_by=DETECTOR,
        first_seen=parse_ts(correlation["first_seen"]),
        last_seen=parse_ts(correlation["last_seen"]),
        count=correlation.get("event_count") or correlation.get("count") or 1,
        event_ids=list(correlation.get("event_ids") or []),
        snapshot=event,
        group=group,
        identity_from_snapshot=not cross,
        host=_shared(group, "host.name") if cross else None,
        user=_shared(group, "user.name") if cross else None,
        source_ip=_shared(group, "source.ip") if cross else None,
        correlation=CorrelationInfo(**info),
    )
    return alert.to_document()


def _shared(group: dict[str, Any], name: str) -> str | None:
    value = group.get(name)
    return str(value) if isinstance(value, str | int) and value != "" else None
