"""Notifier stage: canhgac.alerts.v1 -> routing, grouping, escalation -> email/Telegram/webhooks.

`handle_alert` only writes the durable outbox (SQLite), so once a batch is handled its offsets can
be committed; sending happens in `run_due`, called after each batch and while idle. Alerts the
notifier raises about itself (a channel that keeps failing) go back to canhgac.alerts.v1, so they
are indexed and shown like any other alert.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from aiokafka import ConsumerRecord
from canhgac.core.config import KafkaConfig, PipelineConfig
from canhgac.core.metrics import Metrics
from canhgac.core.notify_config import NotifyConfig
from canhgac.pipeline.notify import InvalidAlertError, NotifierService
from canhgac.pipeline.notify.service import RunReport
from canhgac.pipeline.stage import Stage

log = logging.getLogger(__name__)
RUN_DUE_INTERVAL_SECS = 2.0
# Outbox statuses still to be sent: their counts are the outbox depth.
OUTBOX_WAITING = ("pending", "retrying", "sending")


class NotifierStage(Stage):
    name = "notifier"

    def __init__(
        self,
        kafka: KafkaConfig,
        pipeline: PipelineConfig,
        notify: NotifyConfig,
        metrics: Metrics,
        *,
        data_dir: str | Path,
    ) -> None:
        super().__init__(kafka, pipeline.alert_indexer, metrics, retry_backoff_max_secs=pipeline.retry_backoff_max_secs)
        self.notify = notify
        self.data_dir = data_dir
        self.service: NotifierService | None = None
        self._next_run = 0.0

    def topics(self) -> list[str]:
        return [self.kafka.topics.alerts]

    async def start(self) -> None:
        self.service = NotifierService.open(
            self.notify, data_dir=self.data_dir, on_internal_alert=self._publish_internal
        )

    async def close(self) -> None:
        if self.service:
            await self.service.close()

    async def _publish_internal(self, alert: dict[str, Any]) -> None:
        await self.produce(self.kafka.topics.alerts, [(str(alert["id"]).encode(), orjson.dumps(alert))])

    async def process(self, records: Sequence[ConsumerRecord]) -> None:
        assert self.service is not None
        dead = self.dead_letters()
        for record in records:
            try:
                alert = orjson.loads(record.value)
                await self.service.handle_alert(alert)
            except (orjson.JSONDecodeError, InvalidAlertError) as exc:
                dead.add(record.key, "bad_alert", str(exc), record.value)
        await self.produce_dead_letters(dead)
        await self._run_due(force=True)

    async def on_idle(self) -> None:
        await self._run_due()

    async def _run_due(self, *, force: bool = False) -> None:
        if self.service is None or (not force and time.monotonic() < self._next_run):
            return
        self._next_run = time.monotonic() + RUN_DUE_INTERVAL_SECS
        try:
            report = await self.service.run_due()
        except Exception:  # a channel bug must not stop the consumer; the outbox keeps the work
            log.exception("notifier: sending due notifications failed; will retry")
            return
        self._count(report)

    def _count(self, report: RunReport) -> None:
        assert self.service is not None
        m = self.metrics
        m.notifications.labels("sent").inc(report.sent)
        m.notifications.labels("retrying").inc(report.retrying)
        m.notifications.labels("failed").inc(report.failed)
        m.notifications_escalated.inc(report.escalations)
        waiting = self.service.outbox.counts()
        for status in OUTBOX_WAITING:
            m.outbox_depth.labels(status).set(waiting.get(status, 0))
