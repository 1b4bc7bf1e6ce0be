"""Which route an alert takes, and who is on call for it right now."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from canhgac.core.alert import severity_rank
from canhgac.core.event import get_path
from canhgac.core.notify_config import NotifyConfig, RotationConfig, RouteConfig, RouteMatch, parse_hhmm


def route_matches(match: RouteMatch, alert: Mapping[str, Any], local_now: datetime) -> bool:
    if match.min_severity is not None and (
        severity_rank(str(alert.get("severity", ""))) < severity_rank(match.min_severity)
    ):
        return False
    if match.agencies and alert.get("agency") not in match.agencies:
        return False
    if match.source_ids and get_path(alert, "canhgac.source_id") not in match.source_ids:
        return False
    if match.rule_ids and get_path(alert, "rule.id") not in match.rule_ids:
        return False
    if match.tags_any:
        tags = {str(t).lower() for t in (get_path(alert, "rule.tags") or ())}
        if not tags.intersection(t.lower() for t in match.tags_any):
            return False
    return match.time_of_day is None or match.time_of_day.contains(local_now)


def select_routes(
    config: NotifyConfig, alert: Mapping[str, Any], now: datetime, extra: Sequence[RouteConfig] = ()
) -> list[RouteConfig]:
    """Routes in order; the first match stops the walk unless it says `continue_matching`.
    The last route is a catch-all (the config enforces it), so every alert gets a route.
    `extra` (the agencies' own routes, which continue matching) come before the settings' routes."""
    local_now = now.astimezone(config.zone)
    chosen = []
    for route in (*extra, *config.routes):
        if route_matches(route.match, alert, local_now):
            chosen.append(route)
            if not route.continue_matching:
                break
    return chosen


def on_call(rotation: RotationConfig, now: datetime, zone: ZoneInfo) -> str:
    """The member on call at `now`: a date override wins, else the weekly round-robin."""
    local = now.astimezone(zone)
    for override in rotation.overrides:
        if override.date == local.date():
            return override.member
    handoff = parse_hhmm(rotation.handoff_time)
    start = datetime.combine(rotation.start_date, handoff, tzinfo=zone)
    weeks = (local - start) // timedelta(days=7)
    return rotation.members[weeks % len(rotation.members)].name


def resolve_targets(config: NotifyConfig, channels: tuple[str, ...], rotation: str | None, now: datetime) -> list[str]:
    targets = list(channels)
    if rotation is not None:
        rota = config.rotations[rotation]
        member = on_call(rota, now, config.zone)
        for m in rota.members:
            if m.name == member:
                targets.extend(m.channels)
    return list(dict.fromkeys(targets))
