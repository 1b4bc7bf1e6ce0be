"""The client's address and scheme, believing proxy headers only from `api.trusted_proxies`.

A pure ASGI middleware, so every route, the login limiter and the audit log see the same
`request.client`. The server itself is told to ignore proxy headers (canhgac/runtime.py), because
uvicorn would otherwise believe any `X-Forwarded-For` sent from loopback.

From a trusted proxy, `X-Forwarded-For` is read from the right: each proxy appends the address it
saw, so the right-most address that is not itself a trusted proxy is the client; what lies left
of it was written by the client and is not believed. `X-Forwarded-Proto` (`http`/`https`, the
right-most value) sets the scheme, which decides Secure cookies and HSTS.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


class TrustedProxyHeaders:
    def __init__(self, app: ASGIApp, trusted: Iterable[Network | str]) -> None:
        self.app = app
        self.trusted = tuple(ipaddress.ip_network(str(n), strict=False) for n in trusted)

    def _is_trusted(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        return address is not None and any(address in network for network in self.trusted)

    def client_of(self, peer: str, forwarded_for: str | None) -> str:
        """The client's address: the peer's unless the peer is a trusted proxy that says otherwise."""
        if not forwarded_for or not self._is_trusted(_address(peer)):
            return peer
        hops = [h for h in (part.strip() for part in forwarded_for.split(",")) if h]
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                return peer  # a hop we cannot read: believe nothing further left
            if not self._is_trusted(address):
                return str(address)
        return str(_address(hops[0])) if hops else peer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.trusted and scope.get("client"):
            peer, port = scope["client"]
            if self._is_trusted(_address(peer)):
                raw: list[tuple[bytes, bytes]] = scope.get("headers", [])
                forwarded_for = b",".join(v for k, v in raw if k.lower() == b"x-forwarded-for")
                if forwarded_for:
                    scope = {**scope, "client": (self.client_of(peer, forwarded_for.decode("latin-1")), port)}
                protos = b",".join(v for k, v in raw if k.lower() == b"x-forwarded-proto")
                proto = protos.decode("latin-1").split(",")[-1].strip().lower()
                if proto in ("http", "https"):
                    ws = scope["type"] == "websocket"
                    scheme = {"http": "ws", "https": "wss"}[proto] if ws else proto
                    scope = {**scope, "scheme": scheme}
        await self.app(scope, receive, send)
