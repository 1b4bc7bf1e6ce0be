"""Syslog over TCP (RFC 6587 framing; RFC 5424 and 3164 are parsed later by the normalizer).

Bad input never stops the listener: over-long frames are truncated and flagged, invalid UTF-8 is
replaced and flagged, and a connection's failure only closes that connection. Each read is framed
and handed to the sink as one batch: the sink's back-pressure (producer buffer or spool full)
stops this connection's reads, which is what TCP senders expect. Syslog over TCP has no
application acknowledgement, so the collector does not wait for Kafka's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import Counter

from canhgac.collectors.base import LiveSourceDirectory, SourceDirectory
from canhgac.collectors.listener import StreamListener, peer_of, tls_subject
from canhgac.collectors.registry import COLLECTORS, SinkFactory
from canhgac.collectors.spool.sink import SpoolingSink
from canhgac.collectors.syslog.framing import Frame, SyslogFramer
from canhgac.core.config import Settings, SyslogTcpConfig
from canhgac.core.envelope import Peer, RawEnvelope, utc_now_iso
from canhgac.core.metrics import Metrics

log = logging.getLogger(__name__)
__all__ = ["SyslogStreamCollector", "SyslogTcpCollector", "tls_subject"]
COLLECTOR = "syslog-tcp"
READ_BYTES = 65_536


class SyslogStreamCollector:
    """Shared by the TCP and TLS collectors; TLS only adds the context and the peer's subject."""

    name = COLLECTOR
    transport = "syslog_tcp"

    def __init__(
        self,
        cfg: SyslogTcpConfig,
        sink: SpoolingSink,
        sources: SourceDirectory | LiveSourceDirectory,
        metrics: Metrics,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.cfg = cfg
        self.sink = sink
        self.sources = sources
        self.metrics = metrics
        self.ssl_context = ssl_context
        self.listener: StreamListener | None = None
        self._connections: dict[asyncio.Task[None], _Connection] = {}
        self._per_address: Counter[str] = Counter()
        self.port: int | None = None
        self._received = metrics.received.labels(self.name)
        self._framing_errors = metrics.errors.labels(self.name, "framing")

    async def start(self) -> None:
        await self.sources.start()
        await self.sink.start()
        self.listener = StreamListener(
            self.name,
            self.cfg.host,
            self.cfg.port,
            self._handle,
            self.metrics,
            ssl_context=self.ssl_context,
            handshake_timeout_secs=getattr(self.cfg, "handshake_timeout_secs", 10.0),
            first_byte_timeout_secs=self.cfg.idle_timeout_secs,
            read_limit=READ_BYTES,
        )
        self.port = await self.listener.start()
        log.info("%s listening on %s:%s", self.name, self.cfg.host, self.port)

    async def stop(self) -> None:
        """Stop accepting; end each connection gracefully (below); then drain the sink.

        A connection is half-closed (FIN, plain TCP only) and still read until the sender closes
        its side or `close_wait_secs` pass: what the sender had already sent is framed and stored.
        Closing at once made the kernel reset the connection and drop the bytes in flight, one
        message or more per connection on every clean restart. Over TLS asyncio cannot half-close;
        the connection is still read for `close_wait_secs`.
        """
        if self.listener:
            self.listener.close()
        deadline = asyncio.get_running_loop().time() + self.cfg.close_wait_secs
        for connection in list(self._connections.values()):
            connection.end_by(deadline)
        if self._connections:
            tasks = list(self._connections)
            _done, late = await asyncio.wait(tasks, timeout=self.cfg.close_wait_secs + 10)
            for task in late:  # stuck on a full spool: what they hold is what a crash would lose
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if self.listener:
            await self.listener.wait_closed()
        await self.sink.stop()
        await self.sources.stop()

    def _refuse(self, reason: str, writer: asyncio.StreamWriter) -> None:
        self.metrics.dropped.labels(self.name, reason).inc()
        writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        ip = (writer.get_extra_info("peername") or (None,))[0]
        address = ip or ""
        if len(self._connections) >= self.cfg.max_connections:
            return self._refuse("too_many_connections", writer)
        if self._per_address[address] >= self.cfg.max_connections_per_address:
            return self._refuse("too_many_connections_per_address", writer)
        source, refused = self.sources.admit(ip)
        if source is None:
            log.warning("refused %s connection from %s: %s", self.name, ip, refused)
            return self._refuse(refused, writer)
        connection = self._connections[task] = _Connection(writer)
        self._per_address[address] += 1
        self.metrics.connections.labels(self.name).inc()
        framer = SyslogFramer(self.cfg.max_message_bytes)
        reported = (0, 0)  # over-limit counts and discarded bytes already reported
        peer = peer_of(writer)
        try:
            while True:
                try:
                    async with asyncio.timeout_at(connection.read_deadline(self.cfg.idle_timeout_secs)) as timeout:
                        connection.timeout = timeout
                        data = await reader.read(READ_BYTES)
                except TimeoutError:
                    if not connection.ending:
                        self.metrics.errors.labels(self.name, "idle_timeout").inc()
                    break
                finally:
                    connection.timeout = None
                if not data:
                    break
                frames = framer.feed(data)
                reported = self._report_framing(framer, ip, reported)
                if frames:
                    # The declaration as it is now: an edit (format) applies to open connections,
                    # and a source disabled or deleted meanwhile loses its connection.
                    now_source, refusal = self.sources.admit(ip)
                    if now_source is None:
                        self.metrics.dropped.labels(self.name, refusal).inc(len(frames))
                        log.warning("%s: closing the connection of %s: %s", self.name, ip, refusal)
                        return
                    source = now_source
                    await self._emit(frames, source, peer)
            if frames := framer.flush():
                await self._emit(frames, source, peer)
        except (ConnectionError, OSError, ssl.SSLError) as exc:
            log.info("%s connection from %s ended: %s", self.name, ip, exc)
        finally:
            self._report_framing(framer, ip, reported)
            self._connections.pop(task, None)
            self._per_address[address] -= 1
            if self._per_address[address] <= 0:
                del self._per_address[address]
            self.metrics.connections.labels(self.name).dec()
            writer.close()

    def _report_framing(self, framer: SyslogFramer, ip: str | None, reported: tuple[int, int]) -> tuple[int, int]:
        """Log and count, as they happen, octet counts over the limit and the bytes skipped."""
        counts, discarded = reported
        for count in framer.over_limit_counts[counts:]:
            self.metrics.dropped.labels(self.name, "octet_count_over_limit").inc()
            log.warning(
                "%s: %s announced an octet-counted message of %d bytes, over the %d-byte limit: the first"
                " %d bytes are kept (flagged), the rest is skipped",
                self.name,
                ip,
                count,
                framer.max_message_bytes,
                framer.max_message_bytes,
            )
        if framer.bytes_discarded > discarded:
            self.metrics.dropped.labels(self.name, "over_long_tail_bytes").inc(framer.bytes_discarded - discarded)
        return len(framer.over_limit_counts), framer.bytes_discarded

    async def _emit(self, frames: list[Frame], source: tuple[str, str, str | None], peer: Peer) -> None:
        source_id, agency, fmt = source
        fmt = fmt or "syslog"
        received_at = utc_now_iso()  # one read, one instant: saves a clock call per message
        envelopes = []
        for frame in frames:
            error = frame.error
            try:
                text = frame.data.decode("utf-8")
            except UnicodeDecodeError:
                text = frame.data.decode("utf-8", errors="replace")
                error = f"{error}; invalid UTF-8 replaced" if error else "invalid UTF-8 replaced"
            if text.startswith("\ufeff"):
                text = text[1:]
            if error:
                self._framing_errors.inc()
            envelopes.append(
                RawEnvelope(
                    source_id=source_id,
                    agency=agency,
                    collector=self.name,
                    format=fmt,
                    message=text,
                    peer=peer,
                    received_at=received_at,
                    framing_error=error,
                )
            )
        self._received.inc(len(envelopes))
        await self.sink.submit(envelopes)


class _Connection:
    """A connection's read deadline: idle timeout, or the end of its graceful close."""

    __slots__ = ("deadline", "ending", "timeout", "writer")

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.ending = False
        self.deadline = 0.0
        self.timeout: asyncio.Timeout | None = None  # of the read in progress

    def read_deadline(self, idle_timeout_secs: float) -> float:
        return self.deadline if self.ending else asyncio.get_running_loop().time() + idle_timeout_secs

    def end_by(self, deadline: float) -> None:
        self.ending, self.deadline = True, deadline
        if self.writer.can_write_eof():
            with contextlib.suppress(OSError, RuntimeError):
                self.writer.write_eof()
        if self.timeout is not None:
            self.timeout.reschedule(deadline)


@COLLECTORS.register("syslog_tcp")
class SyslogTcpCollector(SyslogStreamCollector):
    @staticmethod
    def enabled(settings: Settings) -> bool:
        return settings.collectors.syslog_tcp.enabled

    @staticmethod
    def validate(settings: Settings) -> None:
        pass  # every field is checked by its config model

    @classmethod
    def build(cls, settings: Settings, sink_factory: SinkFactory, metrics: Metrics) -> SyslogTcpCollector:
        cfg = settings.collectors.syslog_tcp
        directory = LiveSourceDirectory.from_settings(settings, cfg, transport=cls.transport)
        return cls(cfg, sink_factory(cls.name), directory, metrics)
