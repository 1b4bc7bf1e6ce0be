"""Runs every component in one process (`canhgac run`), with supervision and an orderly drain.

Start order: collectors first, whatever state Kafka and OpenSearch are in (their sinks spool to
disk while Kafka is down), then the API or the metrics listener; stages start once the backends
answer, however long that takes. Shutdown order on SIGTERM/SIGINT: collectors stop accepting and
flush what they received to Kafka (or their spool); then each stage finishes and commits its current
batch; then the API (or the metrics listener) stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any

import uvicorn

from canhgac.api.app import create_app
from canhgac.collectors.registry import Collector, build_collectors
from canhgac.core.archive import archive_loop
from canhgac.core.config import Settings
from canhgac.core.errors import BackendUnavailable
from canhgac.core.http_listener import uvicorn_limits
from canhgac.core.kafka import can_create_topics, ensure_topics
from canhgac.core.metrics import Metrics
from canhgac.core.source_registry import SourceRegistry
from canhgac.core.store import ensure_templates, make_client
from canhgac.ops_listener import OpsListener
from canhgac.pipeline.catalog import ALL_STAGES, build_stages
from canhgac.pipeline.retention import retention_loop
from canhgac.pipeline.stage import Stage

log = logging.getLogger("canhgac")
__all__ = ["ALL_STAGES", "Runtime", "build_stages", "run_forever"]


class _ApiServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Signals belong to the runtime, which stops the API last, after the pipeline drained.
        yield


async def supervise(name: str, run: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
    """Restart a component that failed unexpectedly; its uncommitted records are redelivered."""
    delay = 1.0
    while not stop.is_set():
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed; restarting in %.0fs", name, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            delay = min(delay * 2, 30.0)


async def wait_for_backends(settings: Settings, stop: asyncio.Event) -> bool:
    """Set up topics and templates once Kafka and OpenSearch answer, waiting as long as that takes
    (collectors meanwhile accept and spool). False when a stop was asked for first. A refusal that
    waiting cannot fix (`ConfigError`: too many replicas for the brokers, not authorised) raises."""
    delay = 1.0
    # Topics and templates are set up by the admin principal when this process has it (the local
    # deployment); split deployments run `canhgac kafka setup` once and the stores' own stages put
    # their templates before their first write.
    with_topics = can_create_topics(settings.kafka)
    with_templates = not settings.opensearch.credentials or "admin" in settings.opensearch.credentials
    while True:
        try:
            if with_topics:
                await ensure_topics(settings.kafka)
            if with_templates:
                client = make_client(settings.opensearch, component="admin")
                try:
                    await ensure_templates(client, settings.opensearch)
                finally:
                    await client.close()
            return True
        except BackendUnavailable as exc:
            log.warning("waiting for Kafka and OpenSearch (retrying in %.0fs): %s", delay, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            if stop.is_set():
                return False
            # At most 10 s between tries: stages start soon after the backends come back.
            delay = min(delay * 2, 10.0)


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        stages: tuple[str, ...] = ALL_STAGES,
        collectors: bool = True,
        api: bool = True,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.stage_names = stages
        self.with_collectors = collectors
        self.with_api = api
        self.stop_event = asyncio.Event()
        # Collectors, the API or the metrics listener accept connections.
        self.listening = asyncio.Event()
        # ... and the backends are set up and every stage started.
        self.started = asyncio.Event()
        self.stages: list[Stage] = []
        self.collectors: list[Collector] = []
        # The syslog TCP collector, when enabled (the demo feed and tests send to its port).
        self.collector: Collector | None = None
        self.api_server: _ApiServer | None = None
        self.ops_listener: OpsListener | None = None

    @staticmethod
    def _stage_runner(stage: Stage, stop: asyncio.Event) -> Callable[[], Awaitable[None]]:
        return lambda: stage.run(stop)

    def request_stop(self) -> None:
        self.stop_event.set()

    def not_ready(self) -> str | None:
        """Why this process is not doing its job yet (the metrics listener's /readyz), or None.
        Collectors alone are ready once they listen: they spool while Kafka is down."""
        if not self.listening.is_set():
            return "starting"
        if self.stage_names and not self.started.is_set():
            return "stages waiting for Kafka and OpenSearch"
        return None

    async def run(self) -> None:
        s = self.settings
        # Collectors' configs are validated before anything connects, so a bad one fails fast.
        collectors = build_collectors(s, None, self.metrics) if self.with_collectors else []
        if self.with_collectors:
            # Each collector owns a spooling sink (data_dir/spool/<name>/) and starts it first: with
            # Kafka down the sink spools, so collectors listen whatever state the backends are in.
            self.collectors = collectors
            await asyncio.gather(*(collector.start() for collector in self.collectors))
            self.collector = next((c for c in self.collectors if c.name == "syslog-tcp"), None)
        api_task: asyncio.Task[None] | None = None
        if self.with_api:
            app = create_app(s, self.metrics)
            # Open live streams (the console's SSE) must not hold the shutdown: give them 5 s.
            config = uvicorn.Config(
                app,
                host=s.api.host,
                port=s.api.port,
                # The app decides which proxies to believe (api.trusted_proxies, api/proxy_headers.py);
                # uvicorn would otherwise believe X-Forwarded-For from any loopback peer.
                proxy_headers=False,
                log_level="warning",
                lifespan="on",
                timeout_graceful_shutdown=5,
                # connection caps, request-head timeout and size, keep-alive (core/http_listener.py)
                **uvicorn_limits(s.api.listener, "api", self.metrics),
            )
            self.api_server = _ApiServer(config)
            api_task = asyncio.create_task(self.api_server.serve(), name="api")
            while not self.api_server.started and not api_task.done():  # noqa: ASYNC110 (uvicorn has no event)
                await asyncio.sleep(0.05)
        if not self.with_api and s.metrics_listener.enabled:
            self.ops_listener = OpsListener(s.metrics_listener, self.metrics, self.not_ready)
            await self.ops_listener.start()
        self.listening.set()
        stage_stop = asyncio.Event()
        background: list[asyncio.Task[None]] = []
        tasks: list[asyncio.Task[None]] = []
        try:
            if await wait_for_backends(s, self.stop_event):
                self.stages = build_stages(s, self.metrics, self.stage_names)
                if s.retention.enabled and "indexer" in self.stage_names:
                    retention = retention_loop(
                        lambda: make_client(s.opensearch, component="retention"),
                        s.opensearch.index_prefix,
                        SourceRegistry(
                            s.sources,
                            s.collectors,
                            s.opensearch,
                            component="retention",
                            refresh_secs=s.sources_refresh_secs,
                        ),
                        s.retention,
                        stage_stop,
                    )
                    background.append(asyncio.create_task(retention, name="retention"))
                if s.archive.enabled and "indexer" in self.stage_names:
                    # The daily snapshots run where retention runs, with its principal (the one
                    # given snapshot rights, deploy/opensearch/security/roles.yml).
                    archive = archive_loop(lambda: make_client(s.opensearch, component="retention"), s, stage_stop)
                    background.append(asyncio.create_task(archive, name="archive"))
                tasks = [
                    asyncio.create_task(
                        supervise(st.name, self._stage_runner(st, stage_stop), stage_stop), name=st.name
                    )
                    for st in self.stages
                ]
                self.started.set()
            await self.stop_event.wait()
        finally:
            log.info("stopping: collectors first, then stages drain, then the API")
            for collector in reversed(self.collectors):
                await collector.stop()
            stage_stop.set()
            await asyncio.gather(*tasks, *background, return_exceptions=True)
            if self.api_server and api_task:
                self.api_server.should_exit = True
                await api_task
            if self.ops_listener:
                await self.ops_listener.stop()
            log.info("stopped")


def run_forever(runtime: Runtime, on_started: Callable[[Runtime], Coroutine[Any, Any, None]] | None = None) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, runtime.request_stop)
        runner = asyncio.create_task(runtime.run())
        if on_started:
            started = asyncio.create_task(runtime.started.wait())
            done, _ = await asyncio.wait({runner, started}, return_when=asyncio.FIRST_COMPLETED)
            if started in done:
                helper = asyncio.create_task(on_started(runtime))
                await runner
                helper.cancel()
                return
        await runner

    asyncio.run(main())
