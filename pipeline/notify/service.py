"""The notifier service: the one object the pipeline and the API talk to.

service = NotifierService.open(config, data_dir=settings.data_dir)
await service.handle_alert(alert)        # per record of canhgac.alerts.v1, then commit the offset
await service.run_due()                  # every few seconds: sends, escalations, digests
await service.acknowledge(alert_id, by)  # from the console API
await service.close()
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from canhgac.core.alert import Severity, Status, severity_of
from canhgac.core.errors import BackendUnavailable, ConfigError, NotFound
from canhgac.core.event import get_path
from canhgac.core.ids import derived_id, new_id
from canhgac.core.notify_config import NotifyConfig, RouteConfig
from canhgac.pipeline.notify.ack import AckSigner
from canhgac.pipeline.notify.clock import Clock, SystemClock
from canhgac.pipeline.notify.credentials import resolve_secret
from canhgac.pipeline.notify.delivery import Dispatcher
from canhgac.pipeline.notify.errors import InvalidAlertError
from canhgac.pipeline.notify.notifiers import Notifier, build_notifiers
from canhgac.pipeline.notify.outbox import NotificationRecord, Outbox
from canhgac.pipeline.notify.planning import Planner
from canhgac.pipeline.notify.render import RenderContext, render_test
from canhgac.pipeline.notify.routing import select_routes
from canhgac.pipeline.notify.state import AlertState

log = logging.getLogger(__name__)

InternalAlertSink = Callable[[dict[str, Any]], Awaitable[None]]
_PRUNE_EVERY_SECS = 3600.0


@dataclass(frozen=True)
class HandleResult:
    outcome: str  # routed | updated | duplicate | status_changed | not_new
    placements: dict[str, str] = field(default_factory=dict)  # route -> notified|grouped|held:…|dropped:…


@dataclass
class RunReport:
    groups_flushed: int = 0
    held_released: int = 0
    escalations: int = 0
    digests: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    internal_alerts: list[dict[str, Any]] = field(default_factory=list)


def validate_alert(alert: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(alert, Mapping):
        raise InvalidAlertError("alert is not a JSON object")
    data = dict(alert)
    if not isinstance(data.get("id"), str) or not data["id"]:
        raise InvalidAlertError("alert has no id")
    if not isinstance(get_path(data, "rule.id"), str):
        raise InvalidAlertError("alert has no rule.id", where=data["id"])
    if data.get("severity") not in tuple(Severity):
        data["severity"] = severity_of(get_path(data, "rule.level")).value
    return data


class NotifierService:
    def __init__(
        self,
        config: NotifyConfig,
        outbox: Outbox,
        clock: Clock | None = None,
        *,
        notifiers: Mapping[str, Notifier] | None = None,
        environ: Mapping[str, str] | None = None,
        http: httpx.AsyncClient | None = None,
        on_internal_alert: InternalAlertSink | None = None,
    ) -> None:
        """Resolves every secret and builds every channel now: a missing secret fails at start-up.
        `on_internal_alert` receives alerts the notifier raises about itself (publish them to
        canhgac.alerts.v1); without it they are routed here directly."""
        self.config = config
        self.outbox = outbox
        self.clock = clock or SystemClock()
        env = os.environ if environ is None else environ
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(follow_redirects=False)
        self.notifiers: Mapping[str, Notifier] = (
            notifiers if notifiers is not None else build_notifiers(config.channels, environ=env, http=self._http)
        )
        key = resolve_secret("ack links", env=config.ack_secret_env, file=config.ack_secret_file, environ=env)
        self._signer = AckSigner(key.encode(), self.clock) if key is not None else None
        self.state = AlertState(outbox.db)
        self.planner = Planner(config, self.state, outbox)
        self.dispatcher = Dispatcher(config, outbox, self.state, self.clock, self.notifiers)
        self._on_internal_alert = on_internal_alert
        # Internal alerts the sink has not acknowledged yet (Kafka down), by id: the channel's streak
        # is already marked alerted, so they are handed over again on each run until it takes them.
        self._unpublished: dict[str, dict[str, Any]] = {}
        self._last_prune = 0.0
        self._lock = asyncio.Lock()
        self.agency_routes: tuple[RouteConfig, ...] = ()

    def set_agency_routes(self, routes: Sequence[RouteConfig]) -> None:
        """The agencies' own routes as they are now (API-managed; pipeline/notify/agency_routes.py).
        A route only the agency names is known to the planner too, for its grouping windows."""
        self.agency_routes = tuple(r for r in routes if all(c in self.notifiers for c in r.channels))
        self.planner.routes = {r.name: r for r in (*self.config.routes, *self.agency_routes)}

    @classmethod
    def open(cls, config: NotifyConfig, *, data_dir: str | Path, **kwargs: Any) -> NotifierService:
        return cls(config, Outbox.open(Path(data_dir) / config.database_file), **kwargs)

    # acknowledgement links ----------------------------------------------------------------------
    def _require_signer(self) -> AckSigner:
        if self._signer is None:
            raise ConfigError("acknowledgement links need ack_secret_env or ack_secret_file")
        return self._signer

    def make_ack_token(self, alert_id: str, expires_at: datetime) -> str:
        return self._require_signer().make_ack_token(alert_id, expires_at)

    def verify_ack_token(self, token: str) -> str:
        """The alert id; AckTokenError (an InvalidRequest) with `reason` otherwise."""
        return self._require_signer().verify_ack_token(token)

    def _ack_url(self, alert_id: str) -> str | None:
        template = self.config.ack_url_template
        if template is None or self._signer is None:
            return None
        expires = self.clock.now() + timedelta(hours=self.config.ack_link_ttl_hours)
        return template.replace("{token}", self._signer.make_ack_token(alert_id, expires))

    def render_context(self) -> RenderContext:
        return RenderContext(
            zone=self.config.zone,
            agency_names=self.config.agency_names,
            console_url=self.config.console_url,
            ack_url_for=self._ack_url,
        )

    # alerts in ----------------------------------------------------------------------------------
    async def handle_alert(self, alert: Mapping[str, Any]) -> HandleResult:
        """Record and route one alert from canhgac.alerts.v1. Idempotent per alert id and version
        (last_seen, count, status): a redelivered record changes nothing. When this returns, the
        notifications are durable and the Kafka offset may be committed. Sending happens in
        run_due(). Raises InvalidAlertError for a record that is not an alert (send it to the DLQ)."""
        data = validate_alert(alert)
        alert_id, status = data["id"], str(data.get("status") or Status.NEW)
        version = derived_id(alert_id, str(data.get("last_seen")), str(data.get("count")), status)
        now = self.clock.now()
        async with self._lock:
            with self.outbox.db.transaction():
                if not self.state.remember_version(alert_id, version):
                    return HandleResult("duplicate")
                if self.state.alert(alert_id) is not None:
                    self.state.update_snapshot(data)
                    if status != Status.NEW:
                        self._stop(alert_id, status, by=str(data.get("assignee") or "console"), now=now)
                        return HandleResult("status_changed")
                    return HandleResult("updated")
                self.state.insert_alert(data, now.timestamp())
                if status != Status.NEW:
                    return HandleResult("not_new")
                ctx = self.render_context()
                placements = {
                    route.name: self.planner.place(data, route, now, ctx)
                    for route in select_routes(self.config, data, now, self.agency_routes)
                }
        return HandleResult("routed", placements)

    def _stop(self, alert_id: str, status: str, *, by: str, now: datetime) -> list[str]:
        ids = self.state.grouped_with(alert_id)
        changed = self.state.set_status(ids, status, by=by, now=now.timestamp())
        self.state.stop_escalation(ids)
        self.outbox.cancel_escalations(ids, now.timestamp())
        return changed

    async def acknowledge(self, alert_id: str, by: str) -> list[str]:
        """Stop escalation for the alert (and the alerts grouped into the same message). Returns the
        alerts that moved from new to acknowledged; [] when already acknowledged. NotFound when
        the notifier never saw the alert."""
        async with self._lock:
            with self.outbox.db.transaction():
                if self.state.alert(alert_id) is None:
                    raise NotFound(f"alert {alert_id} is unknown to the notifier")
                return self._stop(alert_id, Status.ACKNOWLEDGED, by=by, now=self.clock.now())

    async def acknowledge_token(self, token: str, by: str = "ack-link") -> list[str]:
        return await self.acknowledge(self.verify_ack_token(token), by)

    # time passes --------------------------------------------------------------------------------
    async def run_due(self, *, limit: int = 200) -> RunReport:
        """Flush grouping windows, release held summaries, escalate, make daily digests, then send
        what is due in the outbox. Call every few seconds; safe to call at any rate."""
        report = RunReport()
        async with self._lock:
            now = self.clock.now()
            ctx = self.render_context()
            report.groups_flushed = self.planner.flush_groups(now, ctx)
            report.held_released = self.planner.release_held(now, ctx)
            report.escalations = self.planner.escalate(now, ctx)
            report.digests = self.planner.daily_digests(now, ctx)
            items = self.outbox.claim_due(now.timestamp(), lease_secs=self.config.retry.sending_lease_secs, limit=limit)
        tally = await self.dispatcher.deliver(items)
        report.sent, report.retrying, report.failed = tally.sent, tally.retrying, tally.failed
        report.internal_alerts = tally.internal_alerts
        for internal in tally.internal_alerts:
            log.error("notification channel failing: %s", internal["notify"])
            self._unpublished[str(internal["id"])] = internal
        await self._raise_internal()
        self._prune(now)
        return report

    async def _raise_internal(self) -> None:
        """Hand the unpublished internal alerts over; one the sink refused stays for the next run
        (its id is stable for the streak, so a repeat after a send that did land is a no-op)."""
        for alert_id, internal in list(self._unpublished.items()):
            if self._on_internal_alert is None:
                await self.handle_alert(internal)
            else:
                try:
                    await self._on_internal_alert(internal)
                except BackendUnavailable as exc:
                    log.warning("internal alert %s not published yet (next run again): %s", alert_id, exc)
                    return
            del self._unpublished[alert_id]

    async def run(self, stop: asyncio.Event, *, interval_secs: float = 2.0) -> None:
        """The periodic loop, for a process that does not drive run_due() itself."""
        while not stop.is_set():
            try:
                await self.run_due()
            except Exception:  # supervisor boundary: log and keep the loop alive
                log.exception("notifier run_due failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval_secs)
            except TimeoutError:
                pass

    def _prune(self, now: datetime) -> None:
        ts = now.timestamp()
        if ts - self._last_prune < _PRUNE_EVERY_SECS:
            return
        self._last_prune = ts
        before = ts - self.config.retention_days * 86400
        with self.outbox.db.transaction():
            self.outbox.prune(before)
            self.state.prune(before)

    # status and tests ---------------------------------------------------------------------------
    def list_notifications(
        self,
        alert_id: str | None = None,
        status: str | None = None,
        limit: int = 100,
        agency: str | None = None,
    ) -> list[NotificationRecord]:
        return self.outbox.list(alert_id=alert_id, status=status, agency=agency, limit=limit)

    def channel_names(self) -> list[str]:
        return sorted(self.notifiers)

    async def send_test(self, channel_name: str) -> NotificationRecord:
        """Send a test message through the outbox now, one attempt; the record says what happened
        (status sent, or failed with the reason)."""
        if channel_name not in self.notifiers:
            known = ", ".join(sorted(self.notifiers)) or "none"
            raise NotFound(f"unknown channel {channel_name!r} (known: {known})")
        now = self.clock.now()
        message = render_test(channel_name, now, self.render_context())
        purpose = f"test:{channel_name}:{new_id()}"
        async with self._lock:
            self.outbox.enqueue(
                purpose=purpose,
                kind="test",
                channel=channel_name,
                message=message,
                route=None,
                now=now.timestamp(),
            )
            key = derived_id("notify", purpose)
            items = self.outbox.claim_due(now.timestamp(), lease_secs=self.config.retry.sending_lease_secs, ids=[key])
        await self.dispatcher.deliver(items, max_attempts=1)
        record = self.outbox.get(key)
        assert record is not None
        return record

    async def close(self) -> None:
        for notifier in self.notifiers.values():
            await notifier.aclose()
        if self._own_http:
            await self._http.aclose()
        self.outbox.close()
