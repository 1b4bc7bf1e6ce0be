"""Live alert updates as Server-Sent Events, by polling the alerts index for newer sequence numbers.

Every write to the (single-shard) alerts index — a new alert, the pipeline's count update, an
analyst's change — gets a higher `_seq_no`, so "what changed since N" is one range query. The
event id is the sequence number: a reconnecting EventSource sends `Last-Event-ID` and misses
nothing. A write can become searchable after a later one (refresh), so each poll looks back a
little and de-duplicates by (alert id, sequence number).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from canhgac.api.alerts.service import SUMMARY_FIELDS, alert_scope, as_seen_by
from canhgac.api.search import run_search
from canhgac.core.errors import BackendUnavailable, RateLimited
from opensearchpy import AsyncOpenSearch

LOOK_BACK = 64
MAX_PER_POLL = 200
HEARTBEAT_SECS = 15.0
MAX_STREAM_SECS = 300.0  # then the browser reconnects (with Last-Event-ID): shutdown is never blocked
SEEN_LIMIT = 10_000


class StreamSlots:
    """Open live streams per user, capped (`api.max_streams_per_user`): every open stream holds a
    poll loop, so one user (or one stolen token) must not open hundreds."""

    def __init__(self, per_user: int) -> None:
        self.per_user = per_user
        self._open: dict[str, int] = {}

    def acquire(self, username: str) -> None:
        if self._open.get(username, 0) >= self.per_user:
            raise RateLimited(
                f"at most {self.per_user} live streams per user are open; close one (another tab)",
                retry_after_secs=5,
            )
        self._open[username] = self._open.get(username, 0) + 1

    def release(self, username: str) -> None:
        left = self._open.get(username, 0) - 1
        if left > 0:
            self._open[username] = left
        else:
            self._open.pop(username, None)


async def holding_slot(events: AsyncIterator[bytes], slots: StreamSlots, username: str) -> AsyncIterator[bytes]:
    """The stream's events; its slot is given back however the stream ends."""
    try:
        async for chunk in events:
            yield chunk
    finally:
        slots.release(username)


async def latest_seq_no(client: AsyncOpenSearch, index: str) -> int:
    body = {"size": 1, "sort": [{"_seq_no": "desc"}], "_source": False, "seq_no_primary_term": True}
    result = await run_search(client, index, body)
    hits = result["hits"]["hits"]
    return int(hits[0]["_seq_no"]) if hits else -1


async def changes_since(
    client: AsyncOpenSearch, index: str, after: int, agency_scope: str | None
) -> list[dict[str, Any]]:
    body = {
        "size": MAX_PER_POLL,
        "query": {"bool": {"filter": [{"range": {"_seq_no": {"gt": after}}}, *alert_scope(agency_scope)]}},
        "sort": [{"_seq_no": "asc"}],
        "seq_no_primary_term": True,
        "_source": SUMMARY_FIELDS,
    }
    result = await run_search(client, index, body)
    return [
        {"seq_no": int(h["_seq_no"]), "alert": as_seen_by(h["_source"], agency_scope)} for h in result["hits"]["hits"]
    ]


def sse(event: str, data: Any, event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return (head + f"event: {event}\n").encode() + b"data: " + orjson.dumps(data) + b"\n\n"


async def alert_events(
    client: AsyncOpenSearch,
    index: str,
    agency_scope: str | None,
    *,
    poll_secs: float,
    last_event_id: int,
    disconnected: Callable[[], Awaitable[bool]],
    max_secs: float = MAX_STREAM_SECS,
    session_ended: Callable[[], Awaitable[str | None]] | None = None,
    recheck_secs: float = 15.0,
) -> AsyncIterator[bytes]:
    """`session_ended` says why the caller may no longer read (logged out, disabled, role or agency
    changed), or None: it is asked every `recheck_secs` and before anything is sent, and the stream
    ends with an `ended` event when it answers."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_secs
    next_check = loop.time() + recheck_secs
    watermark = last_event_id
    seen: OrderedDict[str, int] = OrderedDict()

    def remember(alert_id: str, seq_no: int) -> None:
        seen[alert_id] = seq_no
        seen.move_to_end(alert_id)
        if len(seen) > SEEN_LIMIT:
            seen.popitem(last=False)

    # What was visible before we started is not news: remember it without sending it.
    try:
        for change in await changes_since(client, index, max(-1, watermark - LOOK_BACK), agency_scope):
            if change["seq_no"] <= watermark:
                remember(change["alert"].get("id", ""), change["seq_no"])
    except BackendUnavailable:
        pass  # the loop below reports it
    yield b"retry: 2000\n\n" + sse("ready", {"seq_no": watermark}, watermark)
    last_sent = loop.time()
    while loop.time() < deadline and not await disconnected():
        try:
            changes = await changes_since(client, index, max(-1, watermark - LOOK_BACK), agency_scope)
        except BackendUnavailable as exc:
            # Say so and keep polling: the console shows "disconnected" instead of a dead stream.
            yield sse("unavailable", {"detail": exc.message})
            await asyncio.sleep(max(poll_secs, 2.0))
            continue
        if session_ended is not None and (changes or loop.time() >= next_check):
            reason = await session_ended()
            if reason is not None:
                yield sse("ended", {"detail": reason})
                return
            next_check = loop.time() + recheck_secs
        for change in changes:
            alert_id, seq_no = change["alert"].get("id", ""), change["seq_no"]
            if seq_no <= seen.get(alert_id, -1):
                continue
            remember(alert_id, seq_no)
            yield sse("alert", change["alert"], seq_no)
            last_sent = loop.time()
        if changes:
            watermark = max(watermark, max(c["seq_no"] for c in changes))
        if loop.time() - last_sent > HEARTBEAT_SECS:
            yield b": keep-alive\n\n"
            last_sent = loop.time()
        await asyncio.sleep(poll_secs)
