"""The feed poller: runs in the API process (the API owns the config indices), polls each enabled
feed when its interval has passed since its last attempt, and raises a feed's "stale" alert once per
outage. Several API replicas may list the same feed as due: the first to claim it (the attempt's
time written with the version read) polls it, the others skip it; writes are idempotent anyway
(derived ids). The stale alert is recorded on the feed before it is published; a publish Kafka
did not acknowledge removes the record, so the next round raises it again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from canhgac.api.intel.feeds import due_feeds, list_feeds, mark_stale, poll_if_due, unmark_stale
from canhgac.core.config import OpenSearchConfig
from canhgac.core.errors import BackendUnavailable
from opensearchpy import AsyncOpenSearch

log = logging.getLogger(__name__)
CHECK_INTERVAL_SECS = 5.0


Hunt = Callable[[str, list[str]], Awaitable[Any]]  # (feed id, indicator ids stored) -> retro-hunt
Publish = Callable[[dict[str, Any]], Awaitable[bool]]  # True once Kafka acknowledged the alert


async def poll_due(
    client: AsyncOpenSearch,
    cfg: OpenSearchConfig,
    publish: Publish,
    hunt: Hunt | None = None,
) -> None:
    for doc in await due_feeds(client, cfg, datetime.now(UTC)):
        result = await poll_if_due(client, cfg, str(doc["id"]))  # None: polled or claimed meanwhile
        if result is not None and hunt is not None and result.get("indicator_ids"):
            await hunt(str(doc["id"]), result["indicator_ids"])
    for doc in await list_feeds(client, cfg):
        alert = await mark_stale(client, cfg, doc, datetime.now(UTC))
        if alert is not None and not await publish(alert):
            await unmark_stale(client, cfg, str(doc["id"]), str(alert["id"]))


async def poll_loop(
    client: AsyncOpenSearch,
    cfg: OpenSearchConfig,
    publish: Publish,
    stop: asyncio.Event,
    check_interval_secs: float = CHECK_INTERVAL_SECS,
    hunt: Hunt | None = None,
) -> None:
    while not stop.is_set():
        try:
            await poll_due(client, cfg, publish, hunt)
        except BackendUnavailable as exc:
            log.warning("feed poller: OpenSearch unavailable, retrying: %s", exc)
        except Exception:  # the supervisor boundary of the poller task: log, go on polling
            log.exception("feed poller failed; retrying")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=check_interval_secs)
