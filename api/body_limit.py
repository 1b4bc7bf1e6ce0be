"""Request bodies are bounded in size and time on every API route, before anything reads them.

A pure ASGI middleware: a request whose Content-Length is over its route's limit gets 413 without
one body byte read; otherwise the bytes are counted as the route reads them, and the read that
goes over the limit raises 413 (so a chunked body is never held past the limit either). The whole
body must arrive within `body_timeout_secs` (408), so a sender trickling bytes cannot hold a
request open. The limit depends on the route class (`ApiConfig`): `/api/v1/auth/` (reached before
any login) has the smallest, `/api/v1/rules` (pasted YAML and sample events) the largest, every
other route `max_body_bytes`. HTTP ingest has its own limits (collectors/http).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import orjson
from canhgac.core.config import ApiConfig
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

AUTH_PREFIX = "/api/v1/auth/"
RULES_PREFIX = "/api/v1/rules"


@dataclass(frozen=True, slots=True)
class BodyLimits:
    default_bytes: int
    by_prefix: tuple[tuple[str, int], ...]
    timeout_secs: float

    @classmethod
    def from_config(cls, cfg: ApiConfig) -> BodyLimits:
        return cls(
            default_bytes=cfg.max_body_bytes,
            by_prefix=((AUTH_PREFIX, cfg.max_auth_body_bytes), (RULES_PREFIX, cfg.max_rule_body_bytes)),
            timeout_secs=cfg.body_timeout_secs,
        )

    def for_path(self, path: str) -> int:
        for prefix, limit in self.by_prefix:
            if path.startswith(prefix):
                return limit
        return self.default_bytes


def _too_large(limit: int) -> str:
    return f"request body is over the limit of {limit} bytes for this route"


class BodyLimit:
    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.for_path(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _reply(send, 413, _too_large(limit))
            return
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        received = 0
        complete = False

        async def bounded_receive() -> Message:
            nonlocal deadline, received, complete
            if complete:  # after the body, receive() only waits for a disconnect (live streams)
                return await receive()
            if deadline is None:
                deadline = loop.time() + self.limits.timeout_secs
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(408, f"request body not received within {self.limits.timeout_secs:g} s") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, _too_large(limit))
                complete = not message.get("more_body", False)
            return message

        async def send_closing(message: Message) -> None:
            # after a refused body the rest of it may still be on its way: do not keep the connection
            if message["type"] == "http.response.start" and message["status"] in (408, 413) and not complete:
                message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            await send(message)

        await self.app(scope, bounded_receive, send_closing)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            # an unparsable length is the server's to refuse; count the bytes instead
            return int(text) if text.isdigit() else None
    return None


async def _reply(send: Send, status: int, detail: str) -> None:
    body = orjson.dumps({"detail": detail})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


__all__ = ["BodyLimit", "BodyLimits"]
