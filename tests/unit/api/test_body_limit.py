"""Issue 10 finding 4: the API's body limit counts what is received and refuses a trickled body."""

from __future__ import annotations

import asyncio
from typing import Any

from canhgac.api.body_limit import BodyLimit, BodyLimits
from canhgac.core.config import ApiConfig
from fastapi import FastAPI, Request

LIMITS = BodyLimits(default_bytes=1000, by_prefix=(("/api/v1/auth/", 100),), timeout_secs=0.5)


def app_reading_body() -> FastAPI:
    app = FastAPI()

    @app.post("/{path:path}")
    async def echo_size(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    app.add_middleware(BodyLimit, limits=LIMITS)
    return app


async def call(
    app: Any, path: str, messages: list[dict[str, Any]], headers: tuple[tuple[bytes, bytes], ...] = ()
) -> tuple[int, int]:
    """(status, messages the app pulled) for one request whose body arrives as `messages`."""
    pulled = 0
    sent: list[dict[str, Any]] = []
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if not queue:
            await asyncio.sleep(3600)  # the sender went quiet
        pulled += 1
        return queue.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": list(headers),
        "query_string": b"",
        "http_version": "1.1",
        "scheme": "http",
        "server": ("t", 80),
        "client": ("c", 1),
        "root_path": "",
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], pulled


def chunks(n: int, size: int, more_at_end: bool = False) -> list[dict[str, Any]]:
    return [{"type": "http.request", "body": b"x" * size, "more_body": i < n - 1 or more_at_end} for i in range(n)]


async def test_under_the_limit_passes_and_limits_follow_the_route() -> None:
    app = app_reading_body()
    assert (await call(app, "/api/v1/events", chunks(9, 100)))[0] == 200
    assert (await call(app, "/api/v1/auth/login", chunks(2, 60)))[0] == 413


async def test_declared_length_over_the_limit_is_refused_unread() -> None:
    status, pulled = await call(app_reading_body(), "/api/v1/events", chunks(50, 100), ((b"content-length", b"5000"),))
    assert (status, pulled) == (413, 0)


async def test_undeclared_body_stops_being_read_at_the_limit() -> None:
    status, pulled = await call(app_reading_body(), "/api/v1/events", chunks(1000, 100))
    assert status == 413
    assert pulled == 11  # 1,100 bytes: the read that went over


async def test_a_refused_body_closes_the_connection() -> None:
    sent: list[dict[str, Any]] = []
    queue = chunks(20, 100)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/x",
        "headers": [],
        "query_string": b"",
        "http_version": "1.1",
        "scheme": "http",
        "server": ("t", 80),
        "client": ("c", 1),
        "root_path": "",
    }
    await app_reading_body()(scope, receive, send)
    start = sent[0]
    assert start["status"] == 413 and (b"connection", b"close") in start["headers"]


async def test_a_trickled_body_gets_408() -> None:
    status, pulled = await call(app_reading_body(), "/api/v1/events", chunks(3, 10, more_at_end=True))
    assert (status, pulled) == (408, 3)


def test_limits_from_settings() -> None:
    limits = BodyLimits.from_config(ApiConfig())
    cfg = ApiConfig()
    assert limits.for_path("/api/v1/auth/login") == cfg.max_auth_body_bytes
    assert limits.for_path("/api/v1/rules/test") == cfg.max_rule_body_bytes
    assert limits.for_path("/api/v1/alerts") == cfg.max_body_bytes
