"""The FastAPI application factory. Clients are created in the lifespan, never at import.

Every route needs a session or a token except /healthz, /readyz and /metrics (keep /metrics
reachable only from the monitoring network) and the console's static files.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from canhgac.api.alert_publisher import AlertPublisher
from canhgac.api.alerts.views import router as alerts_router
from canhgac.api.audit.views import router as audit_router
from canhgac.api.auth.rate_limit import Limits, LoginLimiter
from canhgac.api.auth.views import router as auth_router
from canhgac.api.body_limit import BodyLimit, BodyLimits
from canhgac.api.cases.views import router as cases_router
from canhgac.api.compliance.service import PolicyFile, coverage_loop
from canhgac.api.compliance.views import router as compliance_router
from canhgac.api.console import console_app
from canhgac.api.dashboard.views import router as dashboard_router
from canhgac.api.deps import AppState, Reader
from canhgac.api.entities.views import router as entities_router
from canhgac.api.errors import ERROR_RESPONSES, install_error_handlers
from canhgac.api.events.views import router as events_router
from canhgac.api.exceptions.views import router as exceptions_router
from canhgac.api.health import router as health_router
from canhgac.api.intel.poller import poll_loop
from canhgac.api.intel.views import router as intel_router
from canhgac.api.lists.views import router as lists_router
from canhgac.api.lookups.views import router as lookups_router
from canhgac.api.meta.views import router as meta_router
from canhgac.api.notify import views as notify_views
from canhgac.api.notify_routes.views import router as notify_routes_router
from canhgac.api.proxy_headers import TrustedProxyHeaders
from canhgac.api.receipts.service import seal_loop
from canhgac.api.receipts.views import router as receipts_router
from canhgac.api.reports.service import mail_loop
from canhgac.api.reports.views import router as reports_router
from canhgac.api.request_metrics import RequestMetrics
from canhgac.api.retention import retention_loop
from canhgac.api.retro.runner import RetroRunner
from canhgac.api.retro.service import enqueue_indicators
from canhgac.api.retro.views import router as retro_router
from canhgac.api.rules.views import router as rules_router
from canhgac.api.saved_searches.views import router as saved_searches_router
from canhgac.api.saved_views.views import router as saved_views_router
from canhgac.api.security import SecurityHeaders
from canhgac.api.sources.views import router as sources_router
from canhgac.api.systems.views import router as systems_router
from canhgac.api.users.views import router as users_router
from canhgac.core.config import Settings
from canhgac.core.errors import BackendUnavailable
from canhgac.core.hashchain import load_signing_key
from canhgac.core.metrics import Metrics
from canhgac.core.store import make_client
from fastapi import FastAPI

from canhgac import __version__

log = logging.getLogger(__name__)
OPENAPI_PATH = "/api/v1/openapi.json"


def create_app(settings: Settings, metrics: Metrics | None = None, *, console: bool = True) -> FastAPI:
    metrics = metrics or Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = make_client(settings.opensearch, component="api")
        api = settings.api
        limiter = LoginLimiter(
            Limits(
                max_failures=api.login_max_failures,
                max_failures_per_address=api.login_max_failures_per_address,
                initial_secs=api.login_backoff_initial_secs,
                max_secs=api.login_backoff_max_secs,
                window_secs=api.login_window_secs,
                max_keys=api.login_limiter_max_keys,
            )
        )
        state = AppState(
            settings=settings,
            metrics=metrics,
            opensearch=client,
            limiter=limiter,
            publisher=AlertPublisher(settings.kafka),
        )
        app.state.canhgac = state
        try:
            await state.ensure_indices()
        except BackendUnavailable as exc:
            log.warning("API indices not ready yet (retried on the first request): %s", exc)
        stop_background = asyncio.Event()
        sealing = None
        if settings.receipts.signing_key_file:
            key = load_signing_key(settings.receipts.signing_key_file)  # a bad key file stops start-up
            sealing = asyncio.create_task(seal_loop(client, settings, key, stop_background), name="receipts")
        pruning = (
            asyncio.create_task(retention_loop(client, settings, stop_background), name="alert-audit-retention")
            if settings.retention.enabled
            else None
        )
        covering = None
        if settings.compliance.enabled:
            policy = PolicyFile(settings.compliance.policy_file)  # a bad policy file stops start-up
            publish = state.publisher.publish if state.publisher is not None else None
            if publish is not None:
                covering = asyncio.create_task(
                    coverage_loop(client, settings, policy, publish, stop_background), name="coverage"
                )
        # Scheduled reports and receipts by e-mail (api/reports/service.py), when a relay is configured.
        mailing = (
            asyncio.create_task(mail_loop(client, settings, stop_background), name="report-mail")
            if settings.reports.smtp is not None
            else None
        )
        stop_polling = asyncio.Event()

        async def hunt_feed(feed_id: str, indicator_ids: list[str]) -> None:
            await enqueue_indicators(client, settings, indicator_ids, trigger=f"feed:{feed_id}", by=f"feed:{feed_id}")

        async def publish_acknowledged(alert: dict[str, Any]) -> bool:
            """A feed's stale alert, a retro alert: True once Kafka acknowledged it (else the poller
            raises it again, the retro-hunt runner publishes it again before the job finishes)."""
            return state.publisher is not None and await state.publisher.publish(alert)

        polling = asyncio.create_task(
            poll_loop(client, settings.opensearch, publish_acknowledged, stop_polling, hunt=hunt_feed),
            name="intel-feeds",
        )
        # Retro-hunts run here, one job at a time (api/retro/runner.py), stopped with the poller.
        hunting = asyncio.create_task(
            RetroRunner(client, settings, publish_acknowledged).run(stop_polling), name="retro-hunts"
        )
        try:
            yield
        finally:
            stop_polling.set()
            await polling
            await hunting
            stop_background.set()
            for task in (sealing, pruning, covering, mailing):
                if task is not None:
                    await task
            if state.publisher is not None:
                await state.publisher.close()
            await notify_views.close_service(app)
            await client.close()

    # The interactive docs pages load scripts from a CDN, which the CSP (rightly) refuses; the
    # schema itself is served to logged-in users at OPENAPI_PATH.
    app = FastAPI(
        title="Canhgac API",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    install_error_handlers(app)
    # Bodies are bounded (413, 408) inside the security headers, so those refusals carry them too.
    app.add_middleware(BodyLimit, limits=BodyLimits.from_config(settings.api))
    app.add_middleware(SecurityHeaders)
    # Counts and times every request by route template (api/request_metrics.py).
    app.add_middleware(RequestMetrics, metrics=metrics)
    # Outermost: every layer below (security headers' HSTS, routes, audit) sees the real client.
    app.add_middleware(TrustedProxyHeaders, trusted=settings.api.trusted_proxies)
    for router in (
        health_router,
        auth_router,
        alerts_router,
        saved_views_router,
        cases_router,
        events_router,
        saved_searches_router,
        entities_router,
        dashboard_router,
        rules_router,
        exceptions_router,
        intel_router,
        lists_router,
        lookups_router,
        retro_router,
        sources_router,
        systems_router,
        users_router,
        audit_router,
        receipts_router,
        reports_router,
        compliance_router,
        notify_views.router,
        notify_routes_router,
        meta_router,
    ):
        # Probes answer for themselves; the on-call link pages document their own (HTML) refusals.
        plain = router is health_router or router is notify_views.router
        app.include_router(router, responses=None if plain else ERROR_RESPONSES)

    @app.get(OPENAPI_PATH, include_in_schema=False)
    async def openapi(principal: Reader) -> dict[str, Any]:
        return app.openapi()

    if console:
        app.mount("/", console_app(settings.api), name="console")
    return app
