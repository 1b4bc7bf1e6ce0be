"""Syslog over TCP (RFC 6587 framing; RFC 5424 and 3164 are parsed later by the normalizer).

Bad input never stops the listener: over-long frames are truncated and flagged, invalid UTF-8 is
replaced and flagged, and a connection's failure only closes that connection.
"""

from __future__ import annotations

import asyncio
import logging

from canhgac.collectors.base import RawSink, SourceDirectory
from canhgac.collectors.syslog.framing import Frame, SyslogFramer
from canhgac.core.config import SyslogTcpConfig
from canhgac.core.envelope import Peer, RawEnvelope
from canhgac.core.metrics import Metrics

log = logging.getLogger(__name__)
COLLECTOR = "syslog-tcp"
READ_BYTES = 65_536


class SyslogTcpCollector:
    def __init__(
        self, cfg: SyslogTcpConfig, sink: RawSink, sources: SourceDirectory, metrics: Metrics
    ) -> None:
        self.cfg = cfg
        self.sink = sink
        self.sources = sources
        self.metrics = metrics
        self.server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.port: int | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, self.cfg.host, self.cfg.port, limit=READ_BYTES)
        self.port = self.server.sockets[0].getsockname()[1]
        log.info("syslog TCP listening on %s:%s", self.cfg.host, self.port)

    async def stop(self) -> None:
        """Stop accepting, let open connections finish what they already received, then return."""
        if self.server:
            self.server.close()
            await self.server.wait_closed()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        peername = writer.get_extra_info("peername") or (None, None)
        ip, port = peername[0], peername[1]
        if len(self._connections) >= self.cfg.max_connections:
            self.metrics.dropped.labels(COLLECTOR, "too_many_connections").inc()
            writer.close()
            return
        source = self.sources.lookup(ip)
        if source is None:
            self.metrics.dropped.labels(COLLECTOR, "unknown_sender").inc()
            log.warning("refused syslog connection from unknown sender %s", ip)
            writer.close()
            return
        self._connections.add(task)
        self.metrics.connections.labels(COLLECTOR).inc()
        framer = SyslogFramer(self.cfg.max_message_bytes)
        peer = Peer(ip=ip, port=port)
        try:
            while True:
                try:
                    data = await reader.read(READ_BYTES)
                except asyncio.CancelledError:
                    break
                if not data:
                    break
                for frame in framer.feed(data):
                    await self._emit(frame, source, peer)
            for frame in framer.flush():
                await self._emit(frame, source, peer)
        except (ConnectionError, OSError) as exc:
            log.info("syslog connection from %s ended: %s", ip, exc)
        finally:
            if framer.bytes_discarded:
                self.metrics.dropped.labels(COLLECTOR, "over_long_tail_bytes").inc(framer.bytes_discarded)
            self._connections.discard(task)
            self.metrics.connections.labels(COLLECTOR).dec()
            writer.close()

    async def _emit(self, frame: Frame, source: tuple[str, str, str | None], peer: Peer) -> None:
        source_id, agency, fmt = source
        error = frame.error
        try:
            text = frame.data.decode("utf-8")
        except UnicodeDecodeError:
            text = frame.data.decode("utf-8", errors="replace")
            error = f"{error}; invalid UTF-8 replaced" if error else "invalid UTF-8 replaced"
        if text.startswith("\ufeff"):
            text = text[1:]
        envelope = RawEnvelope(
            source_id=source_id,
            agency=agency,
            collector=COLLECTOR,
            format=fmt or "syslog",
            message=text,
            peer=peer,
            framing_error=error,
        )
        self.metrics.received.labels(COLLECTOR).inc()
        if error:
            self.metrics.errors.labels(COLLECTOR, "framing").inc()
        await self.sink.submit(envelope)
