"""The FastAPI application factory. Clients are created in the lifespan, never at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from canhgac.api.alerts.views import router as alerts_router
from canhgac.api.deps import AppState
from canhgac.api.errors import install_error_handlers
from canhgac.api.events.views import router as events_router
from canhgac.api.health import router as health_router
from canhgac.core.config import Settings
from canhgac.core.metrics import Metrics
from canhgac.core.store import make_client
from fastapi import FastAPI

from canhgac import __version__


def create_app(settings: Settings, metrics: Metrics | None = None) -> FastAPI:
    metrics = metrics or Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = make_client(settings.opensearch)
        app.state.canhgac = AppState(settings=settings, metrics=metrics, opensearch=client)
        try:
            yield
        finally:
            await client.close()

    app = FastAPI(title="Canhgac API", version=__version__, lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(alerts_router)
    app.include_router(events_router)
    return app
