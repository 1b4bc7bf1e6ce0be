"""RELP input: what rsyslog's `omrelp` (librelp) sends, acknowledged only once it is safe.

Each `syslog` command is answered `200 OK` only after the sink acknowledged its record, that is
after Kafka acknowledged it (acks=all) or the disk spool fsync'd it. Answers go out in the order
the commands came, as RELP requires. A command that was not answered is resent by the client on
its next session, so a collector crash or restart loses nothing that the client still holds.

Sender message id. A crash between "Kafka has it" and "the client read our answer" makes the
client send that message again. When the message starts with 32 hex digits and a space before its
`<PRI>` (rsyslog's `%uuid%`, with the template in docs/sources/rsyslog.md), that prefix is the
sender's message id: it is removed, and the raw id is derived from (source id, message id), so the
resent copy is the same record and the index keeps one document. Without it, delivery is at
least once: such a resend is a second record.

Sessions: `open` must come first (offers: relp_version, commands=syslog); commands' TXNRs must
increase; `close` is answered after everything before it, then the connection is closed. Anything
else on the wire aborts the session (after answering the commands that were stored). On a clean
stop the collector stops accepting, keeps storing and answering each session's commands until the
client pauses (or `shutdown_timeout_secs`), then sends the `serverclose` hint and closes, before
its sink drains: no command is left in flight across the break. Over the window (`window`
commands unanswered), a session is not read until answers go out: back-pressure, never loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections import Counter, deque
from dataclasses import dataclass

from canhgac.collectors.base import LiveSourceDirectory, SourceDirectory
from canhgac.collectors.listener import StreamListener, peer_of
from canhgac.collectors.registry import COLLECTORS, SinkFactory
from canhgac.collectors.relp.protocol import (
    OK,
    SERVERCLOSE,
    RelpFrame,
    RelpParser,
    frame,
    open_response,
    parse_offers,
    txnr_follows,
)
from canhgac.collectors.spool.sink import SpoolingSink
from canhgac.collectors.syslog.tls import check_tls_files, server_context
from canhgac.core.config import RelpConfig, Settings
from canhgac.core.envelope import Peer, RawEnvelope, utc_now_iso
from canhgac.core.errors import ConfigError
from canhgac.core.ids import derived_id
from canhgac.core.metrics import Metrics

log = logging.getLogger(__name__)
COLLECTOR = "relp"
READ_BYTES = 65_536
_SENDER_ID = re.compile(rb"([0-9A-Fa-f]{32}) (?=<[0-9])")
_QUIET_SECS = 0.3  # on a clean stop, a pause this long ends a session


@dataclass(slots=True)
class _Answer:
    txnr: int
    body: bytes
    stored: asyncio.Future[None] | None = None  # resolved when the sink acknowledged the record


@dataclass(slots=True)
class _End:
    serverclose: bool  # hint the client before closing (our stop, idle timeout)


@COLLECTORS.register("relp")
class RelpCollector:
    name = COLLECTOR
    transport = "relp"

    def __init__(
        self,
        cfg: RelpConfig,
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
        self.port: int | None = None
        self._sessions: set[_Session] = set()
        self._per_address: Counter[str] = Counter()
        self._received = metrics.received.labels(self.name)

    # -- registry ----------------------------------------------------------------------------------
    @staticmethod
    def enabled(settings: Settings) -> bool:
        return settings.collectors.relp.enabled

    @staticmethod
    def validate(settings: Settings) -> None:
        cfg = settings.collectors.relp
        where = "collectors.relp"
        if bool(cfg.cert_file) != bool(cfg.key_file):
            raise ConfigError("give both cert_file and key_file for TLS, or neither", where=where)
        if (cfg.client_ca_file or cfg.require_client_cert) and not cfg.cert_file:
            raise ConfigError("client certificates need TLS: set cert_file and key_file", where=where)
        check_tls_files(cfg, where)

    @classmethod
    def build(cls, settings: Settings, sink_factory: SinkFactory, metrics: Metrics) -> RelpCollector:
        cfg = settings.collectors.relp
        context = server_context(cfg, "collectors.relp") if cfg.cert_file else None
        directory = LiveSourceDirectory.from_settings(settings, cfg, transport=cls.transport)
        return cls(cfg, sink_factory(cls.name), directory, metrics, ssl_context=context)

    # -- lifecycle ---------------------------------------------------------------------------------
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
            handshake_timeout_secs=self.cfg.handshake_timeout_secs,
            first_byte_timeout_secs=self.cfg.idle_timeout_secs,
            read_limit=READ_BYTES,
        )
        self.port = await self.listener.start()
        log.info("%s listening on %s:%s%s", self.name, self.cfg.host, self.port, " (TLS)" if self.ssl_context else "")

    async def stop(self) -> None:
        """Stop accepting and reading; answer what was received; `serverclose`; then drain the sink."""
        if self.listener:
            self.listener.close()
        sessions = list(self._sessions)
        for session in sessions:
            session.drain()
        tasks = [s.task for s in sessions]
        if tasks:
            _done, late = await asyncio.wait(tasks, timeout=self.cfg.shutdown_timeout_secs + 5)
            for task in late:
                task.cancel()
            if late:
                await asyncio.gather(*late, return_exceptions=True)
        if self.listener:
            await self.listener.wait_closed()
        await self.sink.stop()
        await self.sources.stop()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = peer_of(writer)
        address = peer.ip or ""
        if len(self._sessions) >= self.cfg.max_connections:
            return self._refuse("too_many_connections", writer)
        if self._per_address[address] >= self.cfg.max_connections_per_address:
            return self._refuse("too_many_connections_per_address", writer)
        source, refused = self.sources.admit(peer.ip)
        if source is None:
            log.warning("refused %s connection from %s: %s", self.name, peer.ip, refused)
            return self._refuse(refused, writer)
        session = _Session(self, reader, writer, source, peer)
        self._sessions.add(session)
        self._per_address[address] += 1
        self.metrics.connections.labels(self.name).inc()
        try:
            await session.run()
        finally:
            self._sessions.discard(session)
            self._per_address[address] -= 1
            if self._per_address[address] <= 0:
                del self._per_address[address]
            self.metrics.connections.labels(self.name).dec()

    def _refuse(self, reason: str, writer: asyncio.StreamWriter) -> None:
        self.metrics.dropped.labels(self.name, reason).inc()
        writer.close()

    def envelope(
        self, data: bytes, source: tuple[str, str, str | None], peer: Peer, received_at: str, f: RelpFrame
    ) -> RawEnvelope:
        source_id, agency, fmt = source
        error = f"message of {f.truncated_from} bytes truncated to {len(data)}" if f.truncated_from else None
        raw_id = None
        sender_id = _SENDER_ID.match(data)
        if sender_id:
            raw_id = derived_id("relp", source_id, sender_id.group(1).decode("ascii").upper())
            data = data[sender_id.end() :]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("utf-8", errors="replace")
            error = f"{error}; invalid UTF-8 replaced" if error else "invalid UTF-8 replaced"
        text = text.rstrip("\r\n")
        if text.startswith("\ufeff"):
            text = text[1:]
        if error:
            self.metrics.errors.labels(self.name, "framing").inc()
        envelope = RawEnvelope(
            source_id=source_id,
            agency=agency,
            collector=self.name,
            format=fmt or "syslog",
            message=text,
            peer=peer,
            received_at=received_at,
            framing_error=error,
        )
        if raw_id:
            envelope.id = raw_id
        return envelope


class _Session:
    """One RELP session: a reader that stores commands and an answerer that acknowledges them."""

    def __init__(
        self,
        collector: RelpCollector,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        source: tuple[str, str, str | None],
        peer: Peer,
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.task = task
        self.collector = collector
        self.cfg = collector.cfg
        self.reader = reader
        self.writer = writer
        self.source = source
        self.peer = peer
        self.parser = RelpParser(self.cfg.max_frame_bytes)
        self.answers: deque[_Answer | _End] = deque()
        self.answer_ready = asyncio.Event()
        self.room = asyncio.Event()
        self.unanswered = 0
        self.opened = False
        self.last_txnr = 0
        self.reading = False  # awaiting the socket: the only point where a stop may cancel us
        self.stopping = False
        self.draining = False  # the collector is stopping: end at the client's next quiet moment
        self.drain_deadline = 0.0
        self.read_timeout: asyncio.Timeout | None = None

    def drain(self) -> None:
        """End the session at the client's next pause (no command for `_QUIET_SECS`), or by
        `shutdown_timeout_secs`. Until then commands are still stored and answered, so nothing is
        in flight when `serverclose` goes out: a client that reads it before its next send keeps that
        message for its next session instead of having it in flight across the break."""
        loop = asyncio.get_running_loop()
        self.draining = True
        self.drain_deadline = loop.time() + self.cfg.shutdown_timeout_secs
        self.room.set()
        if self.read_timeout is not None:
            self.read_timeout.reschedule(min(loop.time() + _QUIET_SECS, self.drain_deadline))

    def stop_reading(self) -> None:
        self.stopping = True
        self.room.set()
        if self.reading:
            self.task.cancel()

    async def run(self) -> None:
        answerer = asyncio.create_task(self._answer(), name=f"relp-answer-{self.peer.ip}:{self.peer.port}")
        end = "eof"
        try:
            end = await self._read()
        except (ConnectionError, OSError, ssl.SSLError) as exc:
            log.info("relp session from %s ended: %s", self.peer.ip, exc)
        finally:
            log.debug(
                "relp session from %s:%s ends (%s) after TXNR %d, %d unanswered",
                self.peer.ip,
                self.peer.port,
                end,
                self.last_txnr,
                self.unanswered,
            )
            if end == "eof":  # the client is gone: nobody to answer (what was stored stays stored)
                answerer.cancel()
            else:
                self._push(_End(serverclose=end in ("stop", "idle")))
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(answerer, self.cfg.shutdown_timeout_secs)
            self.writer.close()

    async def _read(self) -> str:
        """Read and store commands until the session ends; say why it ended."""
        collector = self.collector
        loop = asyncio.get_running_loop()
        while not self.stopping:
            if self.draining:
                if loop.time() >= self.drain_deadline:
                    return "stop"
                deadline = min(loop.time() + _QUIET_SECS, self.drain_deadline)
            else:
                deadline = loop.time() + self.cfg.idle_timeout_secs
            try:
                self.reading = True
                async with asyncio.timeout_at(deadline) as timeout:
                    self.read_timeout = timeout
                    data = await self.reader.read(READ_BYTES)
            except TimeoutError:
                if self.draining:
                    return "stop"
                collector.metrics.errors.labels(collector.name, "idle_timeout").inc()
                return "idle"
            except asyncio.CancelledError:
                if self.stopping:
                    self.task.uncancel()  # our own stop, not the task's end: answer before closing
                    return "stop"
                raise
            finally:
                self.reading = False
                self.read_timeout = None
            if not data:
                return "eof"
            end = await self._handle_frames(self.parser.feed(data))
            if end:
                return end
            if self.parser.error:
                return await self._protocol_error(self.parser.error, [])
            while self.unanswered >= self.cfg.window and not self.stopping:
                self.room.clear()
                await self.room.wait()
        return "stop"

    async def _handle_frames(self, frames: list[RelpFrame]) -> str | None:
        collector = self.collector
        # The declaration as it is now: an edit applies to open sessions; a source disabled or
        # deleted meanwhile ends its session with these commands unanswered (the sender keeps them).
        source, refusal = collector.sources.admit(self.peer.ip)
        if source is None:
            collector.metrics.dropped.labels(collector.name, refusal).inc()
            log.warning("relp session from %s closed: %s", self.peer.ip, refusal)
            return "refused"
        self.source = source
        received_at = utc_now_iso()
        batch: list[RawEnvelope] = []
        txnrs: list[int] = []
        for f in frames:
            if f.txnr == 0:
                continue  # a hint from the client: nothing to answer
            if not txnr_follows(self.last_txnr, f.txnr):
                return await self._protocol_error(f"TXNR {f.txnr} after {self.last_txnr}", batch, txnrs)
            self.last_txnr = f.txnr
            if not self.opened:
                if f.command != "open":
                    return await self._protocol_error(f"{f.command!r} before 'open'", batch, txnrs)
                body, refused = open_response(parse_offers(f.data))
                self._queue(_Answer(f.txnr, body))
                log.debug("relp session from %s:%s opened (%s)", self.peer.ip, self.peer.port, f.data[:120])
                if refused:
                    log.warning("relp session from %s refused: %s", self.peer.ip, refused)
                    collector.metrics.errors.labels(collector.name, "relp_open_refused").inc()
                    return "close"
                self.opened = True
            elif f.command == "syslog":
                batch.append(collector.envelope(f.data, self.source, self.peer, received_at, f))
                txnrs.append(f.txnr)
            elif f.command == "open":  # librelp may repeat it on a reconnect (librelp #129): as librelp does
                await self._store(batch, txnrs)
                batch, txnrs = [], []
                self._queue(_Answer(f.txnr, b"200 connection already open - ignored"))
            elif f.command == "close":
                await self._store(batch, txnrs)
                self._queue(_Answer(f.txnr, OK))
                return "close"
            else:
                await self._store(batch, txnrs)
                batch, txnrs = [], []
                self._queue(_Answer(f.txnr, b"500 command not supported"))
        await self._store(batch, txnrs)
        return None

    async def _store(self, batch: list[RawEnvelope], txnrs: list[int]) -> None:
        if not batch:
            return
        self.collector._received.inc(len(batch))
        stored = await self.collector.sink.submit(batch)
        for txnr in txnrs:
            self._queue(_Answer(txnr, OK, stored))

    async def _protocol_error(self, reason: str, batch: list[RawEnvelope], txnrs: list[int] | None = None) -> str:
        collector = self.collector
        collector.metrics.errors.labels(collector.name, "relp_protocol").inc()
        log.warning("relp session from %s aborted: %s", self.peer.ip, reason)
        await self._store(batch, txnrs or [])  # well-formed commands before the error are kept
        return "error"

    def _queue(self, answer: _Answer) -> None:
        self.unanswered += 1
        self._push(answer)

    def _push(self, item: _Answer | _End) -> None:
        self.answers.append(item)
        self.answer_ready.set()

    async def _answer(self) -> None:
        writer = self.writer
        while True:
            while not self.answers:
                self.answer_ready.clear()
                await writer.drain()
                await self.answer_ready.wait()
            item = self.answers.popleft()
            if isinstance(item, _End):
                if item.serverclose:
                    writer.write(SERVERCLOSE)
                await writer.drain()
                return
            if item.stored is not None:
                if not item.stored.done():
                    await writer.drain()
                try:
                    await item.stored
                except Exception as exc:  # not stored: never acknowledge; the client resends
                    self.collector.metrics.errors.labels(self.collector.name, "relp_not_stored").inc()
                    log.error(
                        "relp: records from %s not stored (%s); closing the session unanswered", self.peer.ip, exc
                    )
                    writer.transport.abort()
                    self.stop_reading()
                    return
            writer.write(frame(item.txnr, "rsp", item.body))
            self.unanswered -= 1
            self.room.set()
