"""Local servers for channel tests: a tiny scripted HTTP/1.1 server and a service factory."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canhgac.pipeline.notify import ManualClock, NotifierService, NotifyConfig, Outbox

from tests.unit.notify.support import ACK_SECRET, START


@dataclass
class Reply:
    status: int = 200
    body: bytes = b'{"ok":true}'
    headers: dict[str, str] = field(default_factory=dict)
    delay_secs: float = 0.0


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class LocalHttpServer:
    """Answers requests in order from `script`, then with 200; records every request."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.script: list[Reply] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> LocalHttpServer:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            while line := await reader.readline():
                method, path, _ = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = raw.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append(Request(method, path, headers, body))
                reply = self.script.pop(0) if self.script else Reply()
                if reply.delay_secs:
                    await asyncio.sleep(reply.delay_secs)
                extra = "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
                writer.write(
                    f"HTTP/1.1 {reply.status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(reply.body)}\r\n{extra}\r\n".encode()
                    + reply.body
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]
            writer.close()

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._server.wait_closed()


def service_config(channels: dict[str, Any], **changes: Any) -> NotifyConfig:
    """Rendering settings equal to the golden files' (same console URL, ack secret and clock)."""
    base: dict[str, Any] = {
        "channels": channels,
        "routes": [{"name": "catch-all", "channels": list(channels)}],
        "agency_names": {"so-tttt": "Sở TT&TT"},
        "console_url": "https://soc.example.vn/console",
        "ack_url_template": "https://soc.example.vn/api/v1/notify/ack?token={token}",
        "ack_secret_env": "ACK_SECRET",
        "retry": {"max_attempts": 3, "backoff_initial_secs": 10, "backoff_max_secs": 60},
    }
    base.update(changes)
    return NotifyConfig.model_validate(base)


def open_service(
    tmp_path: Path,
    config: NotifyConfig,
    clock: ManualClock | None = None,
    environ: dict[str, str] | None = None,
) -> NotifierService:
    return NotifierService(
        config,
        Outbox.open(tmp_path / "notify" / "outbox.sqlite3"),
        clock or ManualClock(START),
        environ={"ACK_SECRET": ACK_SECRET, **(environ or {})},
    )
