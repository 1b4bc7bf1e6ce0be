"""Decide what to send and when: placement of a new alert on a route (quiet hours, grouping,
throttling), then, as time passes, group flushes, held summaries, escalations and daily digests.
Everything here only writes to the database; the dispatcher does the sending."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from canhgac.core.alert import Status, severity_rank
from canhgac.core.event import get_path
from canhgac.core.ids import derived_id
from canhgac.core.notify_config import NotifyConfig, RouteConfig, parse_hhmm
from canhgac.pipeline.notify.message import Message
from canhgac.pipeline.notify.outbox import Outbox
from canhgac.pipeline.notify.render import (
    RenderContext,
    render_daily_digest,
    render_group,
    render_held,
)
from canhgac.pipeline.notify.routing import resolve_targets
from canhgac.pipeline.notify.state import AlertState


class Planner:
    def __init__(self, config: NotifyConfig, state: AlertState, outbox: Outbox) -> None:
        self.config = config
        self.state = state
        self.outbox = outbox
        self.routes = {r.name: r for r in config.routes}

    # placement of a new alert -----------------------------------------------------------------
    def in_quiet_hours(self, now: datetime) -> bool:
        quiet = self.config.quiet_hours
        return quiet is not None and quiet.window.contains(now.astimezone(self.config.zone))

    def place(self, alert: Mapping[str, Any], route: RouteConfig, now: datetime, ctx: RenderContext) -> str:
        alert_id, ts = str(alert["id"]), now.timestamp()
        quiet = self.config.quiet_hours
        if (
            quiet is not None
            and route.quiet_hours_apply
            and self.in_quiet_hours(now)
            and severity_rank(str(alert.get("severity", ""))) < severity_rank(quiet.hold_below)
        ):
            self.state.add_delivery(alert_id, route.name, "held")
            self.state.hold(route.name, alert_id, "quiet", ts)
            return "held:quiet"
        if route.group_window_secs > 0:
            rule_id = str(get_path(alert, "rule.id"))
            key = "\x1f".join(str(get_path(alert, f, "")) for f in route.group_by)
            group_id = self.state.open_group(
                derived_id("group", route.name, rule_id, key, repr(ts)),
                route=route.name,
                rule_id=rule_id,
                group_key=key,
                now=ts,
                closes_at=ts + route.group_window_secs,
            )
            self.state.add_delivery(alert_id, route.name, "grouped", group_id=group_id)
            return "grouped"
        self.state.add_delivery(alert_id, route.name, "pending")
        return self._notify(route, [alert], now, ctx, group_id=None)

    def _throttled(self, route: RouteConfig, ts: float) -> bool:
        t = route.throttle
        return t is not None and self.state.route_sends_since(route.name, ts - t.per_secs) >= t.max_messages

    def _first_escalation_at(self, route: RouteConfig, ts: float) -> float | None:
        return ts + route.escalation[0].after_mins * 60 if route.escalation else None

    def _enqueue(self, *, purpose: str, route: RouteConfig, targets: Sequence[str], message: Message, ts: float) -> int:
        return sum(
            self.outbox.enqueue(
                purpose=f"{purpose}:{route.name}:{channel}",
                kind=message.kind,
                channel=channel,
                message=message,
                route=route.name,
                now=ts,
            )
            for channel in targets
        )

    def _notify(
        self,
        route: RouteConfig,
        alerts: Sequence[Mapping[str, Any]],
        now: datetime,
        ctx: RenderContext,
        *,
        group_id: str | None,
    ) -> str:
        ts = now.timestamp()
        ids = [str(a["id"]) for a in alerts]
        if self._throttled(route, ts):
            for alert_id in ids:
                self.state.add_delivery(alert_id, route.name, "held")
                self.state.mark_state(alert_id, route.name, "held")
                self.state.hold(route.name, alert_id, "throttled", ts)
            return "held:throttled"
        targets = resolve_targets(self.config, route.channels, route.rotation, now)
        if not targets:
            for alert_id in ids:
                self.state.mark_state(alert_id, route.name, "dropped")
            return "dropped:no_channels"
        message = render_group(alerts, ctx)
        self._enqueue(
            purpose=f"group:{group_id}" if group_id else f"alert:{ids[0]}",
            route=route,
            targets=targets,
            message=message,
            ts=ts,
        )
        self.state.record_route_send(route.name, ts)
        self.state.mark_notified(ids, route.name, now=ts, next_escalation_at=self._first_escalation_at(route, ts))
        return "notified"

    # as time passes ---------------------------------------------------------------------------
    def flush_groups(self, now: datetime, ctx: RenderContext) -> int:
        flushed = 0
        for group_id, route_name in self.state.due_groups(now.timestamp()):
            with self.state.db.transaction():
                self.state.mark_group_flushed(group_id)
                route = self.routes.get(route_name)
                members = self.state.group_members(group_id)
                alerts = [a for a in self.state.alerts(members) if a.get("status", Status.NEW) == Status.NEW]
                if route is None or not alerts:
                    for alert_id in members:
                        self.state.mark_state(alert_id, route_name, "dropped")
                    continue
                self._notify(route, alerts, now, ctx, group_id=group_id)
                flushed += 1
        return flushed

    def release_held(self, now: datetime, ctx: RenderContext) -> int:
        released = 0
        ts = now.timestamp()
        reasons = ["throttled"] if self.in_quiet_hours(now) else ["quiet", "throttled"]
        for reason in reasons:
            for route_name, items in self.state.held(reason).items():
                route = self.routes.get(route_name)
                if route is not None and reason == "throttled" and self._throttled(route, ts):
                    continue
                with self.state.db.transaction():
                    self.state.release([held_id for held_id, _ in items], ts)
                    alerts = [
                        a for a in self.state.alerts(a for _, a in items) if a.get("status", Status.NEW) == Status.NEW
                    ]
                    targets = (
                        resolve_targets(self.config, route.channels, route.rotation, now) if route is not None else []
                    )
                    if route is None or not alerts or not targets:
                        continue
                    message = render_held(alerts, ctx, reason=reason, route=route_name)
                    self._enqueue(
                        purpose=f"held:{reason}:{items[0][0]}-{items[-1][0]}",
                        route=route,
                        targets=targets,
                        message=message,
                        ts=ts,
                    )
                    self.state.record_route_send(route_name, ts)
                    self.state.mark_notified(
                        [str(a["id"]) for a in alerts],
                        route_name,
                        now=ts,
                        next_escalation_at=self._first_escalation_at(route, ts),
                    )
                    released += 1
        return released

    def escalate(self, now: datetime, ctx: RenderContext) -> int:
        ts = now.timestamp()
        buckets: dict[tuple[str, str], list[Any]] = {}
        for row in self.state.due_escalations(ts):
            buckets.setdefault((row.route, row.group_id or row.alert_id), []).append(row)
        sent = 0
        for (route_name, bucket), rows in buckets.items():
            with self.state.db.transaction():
                route = self.routes.get(route_name)
                level = rows[0].level
                if route is None or level >= len(route.escalation):
                    self.state.stop_escalation(r.alert_id for r in rows)
                    continue
                step = route.escalation[level]
                following = route.escalation[level + 1] if level + 1 < len(route.escalation) else None
                for r in rows:
                    next_at = (r.notified_at or ts) + following.after_mins * 60 if following else None
                    self.state.set_escalation(r.alert_id, route_name, level=level + 1, next_at=next_at)
                targets = resolve_targets(self.config, step.channels, step.rotation, now)
                alerts = self.state.alerts(r.alert_id for r in rows)
                if not targets or not alerts:
                    continue
                message = render_group(alerts, ctx, escalation_level=level + 1)
                self._enqueue(
                    purpose=f"escalation:{bucket}:{level + 1}",
                    route=route,
                    targets=targets,
                    message=message,
                    ts=ts,
                )
                sent += 1
        return sent

    def daily_digests(self, now: datetime, ctx: RenderContext) -> int:
        made = 0
        local = now.astimezone(self.config.zone)
        for digest in self.config.daily_digests:
            at = parse_hhmm(digest.at_local_time)
            if local.time() < at:
                continue
            day = local.date()
            with self.state.db.transaction():
                if not self.state.claim_digest(digest.agency, day.isoformat()):
                    continue
                until = datetime.combine(day, at, tzinfo=self.config.zone)
                since = until - timedelta(days=1)
                alerts = self.state.alerts_received(digest.agency, since.timestamp(), until.timestamp())
                message = render_daily_digest(digest.agency, day, alerts, ctx)
                for channel in digest.channels:
                    self.outbox.enqueue(
                        purpose=f"daily:{digest.agency}:{day.isoformat()}:{channel}",
                        kind="digest",
                        channel=channel,
                        message=message,
                        route=None,
                        now=now.timestamp(),
                    )
                made += 1
        return made
