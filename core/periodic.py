"""A background task that re-reads live configuration (declared sources, lookup tables) on an
interval, and its stop: written once so every reader fails soft the same way."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def refresh_forever(refresh: Callable[[], Awaitable[object]], every_secs: float, what: str) -> None:
    """Call `refresh` every `every_secs` until cancelled. This loop is its task's supervisor
    boundary: a failure is logged and the reader keeps what it read last."""
    while True:
        await asyncio.sleep(every_secs)
        try:
            await refresh()
        except Exception:
            log.exception("%s refresh failed", what)


async def cancel_and_wait(task: asyncio.Task[None] | None) -> None:
    """Stop a background task and wait until it has stopped (None: nothing to stop)."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
