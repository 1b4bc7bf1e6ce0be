"""Send what the outbox holds, record each outcome, back off on retriable failures, and notice
a channel that keeps failing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from canhgac.core.notify_config import NotifyConfig
from canhgac.pipeline.notify.clock import Clock
from canhgac.pipeline.notify.errors import DeliveryError
from canhgac.pipeline.notify.internal import channel_failing_alert
from canhgac.pipeline.notify.notifiers import Delivery, Notifier
from canhgac.pipeline.notify.outbox import NotificationRecord, Outbox
from canhgac.pipeline.notify.state import AlertState

log = logging.getLogger(__name__)


@dataclass
class DeliveryTally:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    internal_alerts: list[dict[str, Any]] = field(default_factory=list)


def backoff_secs(config: NotifyConfig, attempts: int) -> float:
    retry = config.retry
    return float(min(retry.backoff_max_secs, retry.backoff_initial_secs * 2 ** max(0, attempts - 1)))


class Dispatcher:
    def __init__(
        self,
        config: NotifyConfig,
        outbox: Outbox,
        state: AlertState,
        clock: Clock,
        notifiers: Mapping[str, Notifier],
    ) -> None:
        self.config = config
        self.outbox = outbox
        self.state = state
        self.clock = clock
        self.notifiers = notifiers

    async def deliver(self, items: list[NotificationRecord], *, max_attempts: int | None = None) -> DeliveryTally:
        """Channels run side by side (a slow one does not hold the others up); each channel's
        messages go in order."""
        tally = DeliveryTally()
        by_channel: dict[str, list[NotificationRecord]] = {}
        for item in items:
            by_channel.setdefault(item.channel, []).append(item)
        limit = asyncio.Semaphore(self.config.send_concurrency)

        async def run_channel(channel_items: list[NotificationRecord]) -> None:
            async with limit:
                for item in channel_items:
                    await self._deliver_one(item, tally, max_attempts or self.config.retry.max_attempts)

        await asyncio.gather(*(run_channel(v) for v in by_channel.values()))
        return tally

    async def _deliver_one(self, item: NotificationRecord, tally: DeliveryTally, max_attempts: int) -> None:
        notifier = self.notifiers.get(item.channel)
        if notifier is None:
            self.outbox.mark_failed(
                item.id,
                self.clock.now().timestamp(),
                reason=f"channel {item.channel!r} is no longer configured",
            )
            tally.failed += 1
            return
        try:
            await notifier.send(item.message, Delivery(item.id, item.attempts, self.clock.now()))
        except DeliveryError as exc:
            error = exc.message
            retriable, retry_after = exc.retriable, exc.retry_after_secs
        except Exception as exc:  # a notifier bug must not stop the other notifications
            log.exception("notifier %s crashed sending %s", item.channel, item.id)
            error, retriable, retry_after = f"internal error: {exc!r}", True, None
        else:
            now = self.clock.now().timestamp()
            with self.state.db.transaction():
                self.outbox.mark_sent(item.id, now)
                self.state.channel_ok(item.channel)
            tally.sent += 1
            return
        now_dt = self.clock.now()
        now = now_dt.timestamp()
        with self.state.db.transaction():
            if retriable and item.attempts < max_attempts:
                delay = max(backoff_secs(self.config, item.attempts), retry_after or 0.0)
                self.outbox.mark_retrying(item.id, now, error=error, next_attempt_at=now + delay)
                tally.retrying += 1
            else:
                reason = f"gave up after {item.attempts} attempts: {error}" if retriable else f"permanent: {error}"
                self.outbox.mark_failed(item.id, now, reason=reason)
                tally.failed += 1
            failing_since = self.state.channel_failed(item.channel, now, self.config.channel_failing_after_failures)
        log.warning("notification %s on %s failed (attempt %d): %s", item.id, item.channel, item.attempts, error)
        if failing_since is not None:
            tally.internal_alerts.append(
                channel_failing_alert(
                    channel=item.channel,
                    channel_type=str(getattr(notifier.config, "type", "?")),
                    failures=self.state.channel_failures(item.channel),
                    last_error=error,
                    failing_since=datetime.fromtimestamp(failing_since, UTC),
                    now=now_dt,
                    agency=self.config.internal_alert_agency,
                )
            )
