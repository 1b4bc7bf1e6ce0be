"""`/metrics`, `/healthz` and `/readyz` for a process that does not serve the API.

A process running the API answers these three on the API's port. Every other process (one stage,
or the collectors alone) would otherwise be invisible to Prometheus and to an orchestrator's
probes, so the runtime starts this small listener instead (`metrics_listener` settings). It serves
nothing else and needs no login: bind it to the monitoring network only.

- `/healthz`: the event loop answers (liveness).
- `/readyz`: the process does its job: collectors listening (they spool while Kafka is down) and,
  when it runs stages, the backends set up and the stages started. 503 with what is missing.
- `/metrics`: the process's registry in Prometheus' text format.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from canhgac.core.config import MetricsListenerConfig
from canhgac.core.http_listener import uvicorn_limits
from canhgac.core.metrics import Metrics

log = logging.getLogger(__name__)

# Why the process is not ready yet, or None when it is.
Readiness = Callable[[], str | None]


def ops_app(metrics: Metrics, not_ready: Readiness) -> Starlette:
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        reason = not_ready()
        if reason is None:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "not ready", "reason": reason}, status_code=503)

    async def metrics_page(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_page, methods=["GET"]),
        ]
    )


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Signals belong to the runtime, which stops this listener last.
        yield


class OpsListener:
    def __init__(self, cfg: MetricsListenerConfig, metrics: Metrics, not_ready: Readiness) -> None:
        config = uvicorn.Config(
            ops_app(metrics, not_ready),
            host=cfg.host,
            port=cfg.port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=2,
            # connection caps, request-head timeout and size, keep-alive (core/http_listener.py)
            **uvicorn_limits(cfg.listener, "metrics-listener", metrics),
        )
        self.cfg = cfg
        self.server = _Server(config)
        self.task: asyncio.Task[None] | None = None
        self.port: int | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve(), name="metrics-listener")
        while not self.server.started and not self.task.done():  # noqa: ASYNC110 (uvicorn has no event)
            await asyncio.sleep(0.02)
        if self.task.done():
            self.task.result()  # raises why it could not listen (address in use …)
            raise OSError(f"metrics listener on {self.cfg.host}:{self.cfg.port} did not start")
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        log.info("metrics, health and readiness on http://%s:%s/metrics", self.cfg.host, self.port)

    async def stop(self) -> None:
        if self.task is None:
            return
        self.server.should_exit = True
        await self.task
