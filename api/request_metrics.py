"""API request metrics: a count by route template, method and status, and the time each took.

Labels use the route's template (`/api/v1/alerts/{alert_id}`), never the requested path, so a
scanner walking random URLs cannot grow the number of series: what matched no route is
`route="unmatched"`. A pure ASGI middleware, so streamed responses (the console's live queue) are
timed to their end and bodies are never buffered.
"""

from __future__ import annotations

import time

from canhgac.core.metrics import Metrics
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "unmatched"


def route_label(scope: Scope) -> str:
    route = scope.get("route")
    if route is None:
        return UNMATCHED
    path = str(getattr(route, "path", "") or "")
    if isinstance(route, Mount):  # a mounted app (the console's files): one label for all of it
        return f"{path}/{{path}}"
    return path or UNMATCHED


class RequestMetrics:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before answering

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route, method = route_label(scope), str(scope.get("method", ""))
            self.metrics.api_requests.labels(route, method, str(status)).inc()
            self.metrics.api_request_seconds.labels(route, method).observe(time.perf_counter() - started)
