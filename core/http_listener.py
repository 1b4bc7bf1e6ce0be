"""Bounded HTTP listeners: the uvicorn protocol both the API and the HTTP ingest server run on.

uvicorn caps nothing a client controls before a request starts: a connection that sends half a
request line is kept for ever (its keep-alive timer only starts after a first response), and
`limit_concurrency` answers 503 to requests but never closes connections. 2,000 half-open
connections held both listeners until the process ran out of file descriptors. So, per listener
(`ListenerConfig`):

- at most `max_connections` open connections, and `max_connections_per_address` from one address;
  a connection over either cap is closed as soon as it is accepted (nothing was read from it);
- the request head (request line and headers) must arrive within `header_timeout_secs` of the
  connection opening or, on a kept-alive connection, of the next request's first byte, and within
  `max_header_bytes`; otherwise the connection is closed;
- an idle kept-alive connection is closed after `keep_alive_timeout_secs` (uvicorn's own timer);
- the accept queue is `backlog` long.

Body time and size are bounded where the body is read (the API's BodyLimit middleware, the
ingest app's read_body), with their own settings. Every closed connection is counted in
`canhgac_events_dropped_total{stage=<listener>, reason=…}`.

The protocol is a subclass of the one uvicorn would choose (httptools when installed, else h11):
it only adds bookkeeping around `connection_made`, `data_received` and `connection_lost`, and
notices that the head is complete when the protocol starts a new request cycle.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from canhgac.core.config import ListenerConfig
from canhgac.core.metrics import Metrics

log = logging.getLogger(__name__)


def _base_protocol() -> type[Any]:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        return HttpToolsProtocol
    except ImportError:  # httptools not installed: uvicorn's pure-Python h11 protocol
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return H11Protocol


def bounded_protocol(limits: ListenerConfig, name: str, metrics: Metrics | None = None) -> type[asyncio.Protocol]:
    """A uvicorn HTTP protocol class enforcing `limits`; pass it as `uvicorn.Config(http=…)`.

    The per-address counts live in this closure, so each listener gets its own by calling this once.
    """
    base = _base_protocol()
    per_address: Counter[str] = Counter()

    def count(reason: str) -> None:
        if metrics is not None:
            metrics.dropped.labels(name, reason).inc()

    class BoundedHttpProtocol(base):  # type: ignore[misc, valid-type]
        _refused = False
        _address: str | None = None
        _head_timer: asyncio.TimerHandle | None = None
        _head_bytes = 0
        _head_cycle: Any = None

        def connection_made(self, transport: Any) -> None:
            peer = transport.get_extra_info("peername")
            address = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
            if len(self.connections) >= limits.max_connections:
                self._refuse(transport, "too_many_connections")
                return
            if per_address[address] >= limits.max_connections_per_address:
                self._refuse(transport, "too_many_connections_from_address")
                return
            super().connection_made(transport)
            self._address = address
            per_address[address] += 1
            self._arm_head_timer()

        def _refuse(self, transport: Any, reason: str) -> None:
            self._refused = True
            count(reason)
            transport.abort()

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            waiting = self._head_timer is not None
            if not waiting and (self.cycle is None or self.cycle.response_complete):
                # the first byte of a new request on a kept-alive connection: its head is timed too
                self._arm_head_timer()
                waiting = True
            if waiting:
                self._head_bytes += len(data)
            super().data_received(data)
            if self._head_timer is None:
                return
            if self.cycle is not None and self.cycle is not self._head_cycle:
                self._disarm_head_timer()  # the head is complete: a request cycle started
            elif self._head_bytes > limits.max_header_bytes and not self.transport.is_closing():
                count("header_too_large")
                self._disarm_head_timer()
                self.transport.close()

        def _arm_head_timer(self) -> None:
            self._head_bytes = 0
            self._head_cycle = self.cycle
            self._head_timer = self.loop.call_later(limits.header_timeout_secs, self._head_timed_out)

        def _disarm_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if self.transport is not None and not self.transport.is_closing():
                count("header_timeout")
                self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._refused:
                return
            self._disarm_head_timer()
            if self._address is not None:
                per_address[self._address] -= 1
                if per_address[self._address] <= 0:
                    del per_address[self._address]
                self._address = None
            super().connection_lost(exc)

    BoundedHttpProtocol.__name__ = f"Bounded{base.__name__}"
    return BoundedHttpProtocol


def uvicorn_limits(limits: ListenerConfig, name: str, metrics: Metrics | None = None) -> dict[str, Any]:
    """The `uvicorn.Config` keyword arguments that apply `limits` to one listener."""
    return {
        "http": bounded_protocol(limits, name, metrics),
        "backlog": limits.backlog,
        "timeout_keep_alive": limits.keep_alive_timeout_secs,
        "h11_max_incomplete_event_size": limits.max_header_bytes,
    }


__all__ = ["bounded_protocol", "uvicorn_limits"]
