"""The HTTP collector: the ingest app served by uvicorn on its own port, inside the runtime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from canhgac.collectors.base import SourceDirectory
from canhgac.collectors.http.app import IngestApp
from canhgac.collectors.http.declared import DeclaredSources
from canhgac.collectors.registry import COLLECTORS, SinkFactory
from canhgac.collectors.spool.sink import SpoolingSink
from canhgac.core.config import HttpIngestConfig, Settings
from canhgac.core.errors import ConfigError
from canhgac.core.http_listener import uvicorn_limits
from canhgac.core.metrics import Metrics

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # signals belong to the runtime


@COLLECTORS.register("http")
class HttpCollector:
    name = "http"

    def __init__(
        self,
        cfg: HttpIngestConfig,
        sink: SpoolingSink,
        sources: SourceDirectory,
        metrics: Metrics,
        declared: DeclaredSources | None = None,
    ) -> None:
        self.cfg = cfg
        self.sink = sink
        self.app = IngestApp(cfg, sources, sink, metrics)
        self.declared = declared
        self.port: int | None = None
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    @staticmethod
    def enabled(settings: Settings) -> bool:
        return settings.collectors.http.enabled

    @staticmethod
    def validate(settings: Settings) -> None:
        cfg = settings.collectors.http
        if bool(cfg.cert_file) != bool(cfg.key_file):
            raise ConfigError("cert_file and key_file go together", where="collectors.http")
        for path in (cfg.cert_file, cfg.key_file):
            if path and not Path(path).is_file():
                raise ConfigError(f"{path!r} does not exist", where="collectors.http")
        if not any(s.ingest_key_sha256 for s in settings.sources):
            log.info("no source in the settings has an ingest key: only sources declared through the API can send")

    @classmethod
    def build(cls, settings: Settings, sink_factory: SinkFactory, metrics: Metrics) -> HttpCollector:
        directory = SourceDirectory(settings.sources, transport="http")
        collector = cls(settings.collectors.http, sink_factory(cls.name), directory, metrics)

        def use(new: SourceDirectory) -> None:
            collector.app.sources = new  # requests in progress keep the directory they started with

        collector.declared = DeclaredSources(
            settings.opensearch, settings.sources, settings.collectors.http.api_sources_refresh_secs, use, metrics
        )
        return collector

    async def start(self) -> None:
        await self.sink.start()
        if self.declared is not None:
            await self.declared.start()
        config = uvicorn.Config(
            self.app.asgi(),
            host=self.cfg.host,
            port=self.cfg.port,
            # A sender is who the TCP peer is: X-Forwarded-For from loopback must not pass a
            # source's allowed_addresses.
            proxy_headers=False,
            log_level="warning",
            lifespan="off",
            access_log=False,
            ssl_certfile=self.cfg.cert_file,
            ssl_keyfile=self.cfg.key_file,
            # connection caps, request-head timeout and size, keep-alive (core/http_listener.py)
            **uvicorn_limits(self.cfg.listener, self.name, self.app.metrics),
        )
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(), name="http-ingest")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises the bind error
                raise ConfigError("HTTP ingest server stopped at start-up", where="collectors.http")
            await asyncio.sleep(0.02)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        log.info("HTTP ingest listening on %s:%s", self.cfg.host, self.port)

    async def stop(self) -> None:
        """Finish requests in progress (they wait for their acknowledgements), then drain the sink."""
        if self._server and self._task:
            self._server.should_exit = True
            await self._task
        if self.declared is not None:
            await self.declared.stop()
        await self.sink.stop()
