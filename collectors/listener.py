"""Accepting stream connections for the syslog TCP/TLS and RELP collectors.

TLS begins on the peer's first byte. Shippers such as syslog-ng connect at start-up and send the
TLS ClientHello only with their first message; a handshake timeout counted from the TCP accept
cut those quiet connections off, and syslog-ng then waited `time-reopen()` (60 s) before
reconnecting. So a connection first waits, without reading, until the peer sends something (at
most the collector's idle timeout, like any quiet connection), and only then does the handshake
get `handshake_timeout_secs`.

A failed handshake (plain text on the TLS port, an untrusted or missing client certificate, a
stalled peer) is counted as `canhgac_errors_total{kind="tls_handshake_failed"}` and logged, at
most one line per `_LOG_INTERVAL_SECS` with the number of failures not shown, so a scanner cannot
flood the log.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

from canhgac.core.envelope import Peer
from canhgac.core.metrics import Metrics

log = logging.getLogger(__name__)
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
_LOG_INTERVAL_SECS = 10.0
_BACKLOG = 1024


class StreamListener:
    def __init__(
        self,
        collector: str,
        host: str,
        port: int,
        handler: Handler,
        metrics: Metrics,
        *,
        ssl_context: ssl.SSLContext | None = None,
        handshake_timeout_secs: float = 10.0,
        first_byte_timeout_secs: float = 3600.0,
        read_limit: int = 65_536,
    ) -> None:
        self.collector = collector
        self.host = host
        self.requested_port = port
        self.handler = handler
        self.metrics = metrics
        self.ssl_context = ssl_context
        self.handshake_timeout_secs = handshake_timeout_secs
        self.first_byte_timeout_secs = first_byte_timeout_secs
        self.read_limit = read_limit
        self.port: int | None = None
        self._sockets: list[socket.socket] = []
        self._acceptors: list[asyncio.Task[None]] = []
        self._opening: set[asyncio.Task[None]] = set()  # accepted, handshake not yet done
        self._handshake_failed = metrics.errors.labels(collector, "tls_handshake_failed")
        self._last_report = 0.0
        self._unreported = 0

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(self.host, self.requested_port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        port = self.requested_port
        seen: set[tuple[Any, ...]] = set()
        for family, kind, proto, _name, address in infos:
            if (family, address[0]) in seen:
                continue
            seen.add((family, address[0]))
            sock = socket.socket(family, kind, proto)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind((address[0], port, *address[2:]))
                sock.listen(_BACKLOG)
                sock.setblocking(False)
            except OSError:
                sock.close()
                self.close()
                raise
            port = port or sock.getsockname()[1]
            self._sockets.append(sock)
        self.port = port
        self._acceptors = [
            asyncio.create_task(self._accept(sock), name=f"{self.collector}-accept") for sock in self._sockets
        ]
        return port

    def close(self) -> None:
        """Stop accepting; connections still before their handshake are dropped (nothing was read)."""
        for task in [*self._acceptors, *self._opening]:
            task.cancel()
        for sock in self._sockets:
            sock.close()
        self._sockets = []

    async def wait_closed(self) -> None:
        tasks = [*self._acceptors, *self._opening]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _accept(self, listening: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _address = await loop.sock_accept(listening)
            except asyncio.CancelledError:
                raise
            except OSError as exc:  # EMFILE and the like: wait a little rather than spin
                log.warning("%s: accept failed: %s", self.collector, exc)
                await asyncio.sleep(0.1)
                continue
            task = asyncio.create_task(self._open(conn), name=f"{self.collector}-connection")
            self._opening.add(task)

    async def _open(self, conn: socket.socket) -> None:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        try:
            conn.setblocking(False)
            if self.ssl_context is not None:
                if not await self._first_byte(conn):
                    conn.close()
                    return
            reader = asyncio.StreamReader(limit=self.read_limit)
            protocol = asyncio.StreamReaderProtocol(reader)
            try:
                transport, _ = await loop.connect_accepted_socket(
                    lambda: protocol,
                    conn,
                    ssl=self.ssl_context,
                    ssl_handshake_timeout=self.handshake_timeout_secs if self.ssl_context else None,
                )
            except (ssl.SSLError, ConnectionError, TimeoutError, OSError) as exc:
                peer = _peername(conn)
                conn.close()
                if self.ssl_context is not None:
                    self._report_handshake_failure(peer, exc)
                return
        except asyncio.CancelledError:
            conn.close()
            raise
        finally:
            if task is not None:
                self._opening.discard(task)
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        await self.handler(reader, writer)

    async def _first_byte(self, conn: socket.socket) -> bool:
        """Wait until the peer sent something; False when it closed (or stayed quiet) instead."""
        loop = asyncio.get_running_loop()
        readable: asyncio.Future[None] = loop.create_future()
        fd = conn.fileno()

        def wake() -> None:
            if not readable.done():
                readable.set_result(None)

        loop.add_reader(fd, wake)
        try:
            async with asyncio.timeout(self.first_byte_timeout_secs):
                await readable
        except TimeoutError:
            self.metrics.errors.labels(self.collector, "idle_timeout").inc()
            return False
        finally:
            loop.remove_reader(fd)
        try:
            return conn.recv(1, socket.MSG_PEEK) != b""
        except OSError:
            return False

    def _report_handshake_failure(self, peer: str, exc: BaseException) -> None:
        self._handshake_failed.inc()
        now = time.monotonic()
        if now - self._last_report < _LOG_INTERVAL_SECS:
            self._unreported += 1
            return
        more = f" ({self._unreported} more since the last report)" if self._unreported else ""
        reason = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        log.warning("%s: TLS handshake with %s failed: %s%s", self.collector, peer, reason, more)
        self._last_report, self._unreported = now, 0


def _peername(conn: socket.socket) -> str:
    try:
        name = conn.getpeername()
    except OSError:
        return "?"
    return f"{name[0]}:{name[1]}"


def peer_of(writer: asyncio.StreamWriter) -> Peer:
    """Address and, over TLS, the verified client certificate's subject and SHA-256."""
    peername = writer.get_extra_info("peername") or (None, None)
    subject = tls_subject(writer.get_extra_info("peercert"))
    fingerprint = None
    ssl_object = writer.get_extra_info("ssl_object")
    if subject and ssl_object is not None:
        der = ssl_object.getpeercert(binary_form=True)
        fingerprint = hashlib.sha256(der).hexdigest().upper() if der else None
    return Peer(ip=peername[0], port=peername[1], tls_subject=subject, tls_hash_sha256=fingerprint)


def tls_subject(cert: dict[str, Any] | None) -> str | None:
    """RFC 4514-style subject of a verified client certificate, most specific part first."""
    if not cert or "subject" not in cert:
        return None
    short = {
        "commonName": "CN",
        "organizationName": "O",
        "organizationalUnitName": "OU",
        "countryName": "C",
        "localityName": "L",
        "stateOrProvinceName": "ST",
        "domainComponent": "DC",
    }
    parts = [f"{short.get(k, k)}={v}" for rdn in reversed(cert["subject"]) for k, v in rdn]
    return ",".join(parts) or None
