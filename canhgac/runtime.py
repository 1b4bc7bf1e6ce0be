"""Runs every component in one process (`canhgac run`), with supervision and an orderly drain.

Shutdown order on SIGTERM/SIGINT: collectors stop accepting and flush what they received to
Kafka; then each stage finishes and commits its current batch; then the API stops.
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
from canhgac.core.config import Settings
from canhgac.core.errors import BackendUnavailable
from canhgac.core.http_listener import uvicorn_limits
from canhgac.core.kafka import ensure_topics
from canhgac.core.metrics import Metrics
from canhgac.core.store import ensure_templates, make_client
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


async def wait_for_backends(settings: Settings, timeout_secs: float = 120.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_secs
    while True:
        try:
            await ensure_topics(settings.kafka)
            client = make_client(settings.opensearch)
            try:
                await ensure_templates(client, settings.opensearch)
            finally:
                await client.close()
            return
        except BackendUnavailable as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise
            log.warning("waiting for Kafka and OpenSearch: %s", exc)
            await asyncio.sleep(2)


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
        self.started = asyncio.Event()
        self.stages: list[Stage] = []
        self.collectors: list[Collector] = []
        # The syslog TCP collector, when enabled (the demo feed and tests send to its port).
        self.collector: Collector | None = None
        self.api_server: _ApiServer | None = None

    @staticmethod
    def _stage_runner(stage: Stage, stop: asyncio.Event) -> Callable[[], Awaitable[None]]:
        return lambda: stage.run(stop)

    def request_stop(self) -> None:
        self.stop_event.set()

    async def run(self) -> None:
        s = self.settings
        # Collectors' configs are validated before anything connects, so a bad one fails fast.
        collectors = build_collectors(s, None, self.metrics) if self.with_collectors else []
        await wait_for_backends(s)
        stage_stop = asyncio.Event()
        self.stages = build_stages(s, self.metrics, self.stage_names)
        background: list[asyncio.Task[None]] = []
        if s.retention.enabled and "indexer" in self.stage_names:
            retention = retention_loop(
                lambda: make_client(s.opensearch),
                s.opensearch.index_prefix,
                s.sources,
                s.retention,
                stage_stop,
            )
            background.append(asyncio.create_task(retention, name="retention"))
        tasks = [
            asyncio.create_task(supervise(st.name, self._stage_runner(st, stage_stop), stage_stop), name=st.name)
            for st in self.stages
        ]
        if self.with_collectors:
            # Each collector owns a spooling sink (data_dir/spool/<name>/) and starts it first.
            self.collectors = collectors
            for collector in self.collectors:
                await collector.start()
            self.collector = next((c for c in self.collectors if c.name == "syslog-tcp"), None)
        api_task: asyncio.Task[None] | None = None
        if self.with_api:
            app = create_app(s, self.metrics)
            # Open live streams (the console's SSE) must not hold the shutdown: give them 5 s.
            config = uvicorn.Config(
                app,
                host=s.api.host,
                port=s.api.port,
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
        self.started.set()
        await self.stop_event.wait()
        log.info("stopping: collectors first, then stages drain, then the API")
        for collector in reversed(self.collectors):
            await collector.stop()
        stage_stop.set()
        await asyncio.gather(*tasks, *background, return_exceptions=True)
        if self.api_server and api_task:
            self.api_server.should_exit = True
            await api_task
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
