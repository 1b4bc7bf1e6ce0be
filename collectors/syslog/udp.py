"""Syslog over UDP (RFC 5426: one message per datagram).

UDP cannot push back, so losses happen; we count every one we can see: datagrams from unknown
senders, over-long datagrams (truncated and flagged, like TCP), invalid UTF-8 (replaced and
flagged), and datagrams dropped because the queue to the sink or the spool is full. Datagrams the
kernel drops when the socket buffer overflows never reach us; size `receive_buffer_bytes` for
bursts, and watch the host's `RcvbufErrors` (netstat -su) for those.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque

from canhgac.collectors.base import LiveSourceDirectory, SourceDirectory
from canhgac.collectors.registry import COLLECTORS, SinkFactory
from canhgac.collectors.spool.sink import SpoolingSink
from canhgac.core.config import Settings, SyslogUdpConfig
from canhgac.core.envelope import Peer, RawEnvelope, utc_now_iso
from canhgac.core.errors import Overloaded
from canhgac.core.metrics import Metrics

log = logging.getLogger(__name__)
_BATCH = 2000


@COLLECTORS.register("syslog_udp")
class SyslogUdpCollector(asyncio.DatagramProtocol):
    name = "syslog-udp"
    transport_name = "syslog_udp"

    def __init__(
        self,
        cfg: SyslogUdpConfig,
        sink: SpoolingSink,
        sources: SourceDirectory | LiveSourceDirectory,
        metrics: Metrics,
    ) -> None:
        self.cfg = cfg
        self.sink = sink
        self.sources = sources
        self.metrics = metrics
        self.port: int | None = None
        self._queue: deque[tuple[bytes, tuple[str, int]]] = deque()
        self._ready = asyncio.Event()
        self._transport: asyncio.DatagramTransport | None = None
        self._worker: asyncio.Task[None] | None = None
        self._dropped = lambda reason, n=1: metrics.dropped.labels(self.name, reason).inc(n)

    @staticmethod
    def enabled(settings: Settings) -> bool:
        return settings.collectors.syslog_udp.enabled

    @staticmethod
    def validate(settings: Settings) -> None:
        pass

    @classmethod
    def build(cls, settings: Settings, sink_factory: SinkFactory, metrics: Metrics) -> SyslogUdpCollector:
        cfg = settings.collectors.syslog_udp
        directory = LiveSourceDirectory.from_settings(settings, cfg, transport=cls.transport_name)
        return cls(cfg, sink_factory(cls.name), directory, metrics)

    async def start(self) -> None:
        await self.sources.start()
        await self.sink.start()
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.cfg.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.cfg.receive_buffer_bytes)
        sock.bind((self.cfg.host, self.cfg.port))
        transport, _ = await loop.create_datagram_endpoint(lambda: self, sock=sock)
        self._transport = transport
        self.port = sock.getsockname()[1]
        self._worker = asyncio.create_task(self._drain(), name="syslog-udp-drain")
        log.info("syslog UDP listening on %s:%s", self.cfg.host, self.port)

    async def stop(self) -> None:
        if self._transport:
            self._transport.close()
        if self._worker:
            self._ready.set()
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        await self._send_queued()  # what was already received still goes to the sink
        await self.sink.stop()
        await self.sources.stop()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(self._queue) >= self.cfg.max_queued_messages:
            self._dropped("queue_full")
            return
        self._queue.append((data, addr))
        self._ready.set()

    def error_received(self, exc: Exception) -> None:
        self.metrics.errors.labels(self.name, "socket").inc()

    async def _drain(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._queue:
                await self._send_queued()

    async def _send_queued(self) -> None:
        envelopes: list[RawEnvelope] = []
        received_at = utc_now_iso()
        while self._queue and len(envelopes) < _BATCH:
            data, addr = self._queue.popleft()
            envelope = self._envelope(data, addr, received_at)
            if envelope is not None:
                envelopes.append(envelope)
        if not envelopes:
            return
        self.metrics.received.labels(self.name).inc(len(envelopes))
        try:
            await self.sink.submit(envelopes, wait=False)
        except Overloaded:
            self._dropped("spool_full", len(envelopes))

    def _envelope(self, data: bytes, addr: tuple[str, int], received_at: str) -> RawEnvelope | None:
        source, refused = self.sources.admit(addr[0])
        if source is None:
            self._dropped(refused)  # unknown_sender, source_disabled
            return None
        error = None
        if len(data) > self.cfg.max_message_bytes:
            self._dropped("over_long_tail_bytes", len(data) - self.cfg.max_message_bytes)
            data = data[: self.cfg.max_message_bytes]
            error = f"datagram longer than {self.cfg.max_message_bytes} bytes truncated"
        data = data.rstrip(b"\r\n\0")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("utf-8", errors="replace")
            error = f"{error}; invalid UTF-8 replaced" if error else "invalid UTF-8 replaced"
            self.metrics.errors.labels(self.name, "decode").inc()
        if text.startswith("\ufeff"):
            text = text[1:]
        if not text:
            self._dropped("empty_datagram")
            return None
        source_id, agency, fmt = source
        return RawEnvelope(
            source_id=source_id,
            agency=agency,
            collector=self.name,
            format=fmt or "syslog",
            message=text,
            peer=Peer(ip=addr[0], port=addr[1]),
            received_at=received_at,
            framing_error=error,
        )
