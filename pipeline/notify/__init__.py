"""On-call notifications: the right alert reaches the right person, once, until acknowledged.

Consumes canhgac.alerts.v1 (the composition root owns the consumer), routes each alert, keeps a
durable outbox in SQLite, and sends through e-mail, Telegram, webhooks, Slack/Mattermost, Teams.
See docs/notifications.md.
"""

from __future__ import annotations

from canhgac.core.notify_config import NotifyConfig
from canhgac.pipeline.notify.clock import Clock, ManualClock, SystemClock
from canhgac.pipeline.notify.errors import AckTokenError, DeliveryError, InvalidAlertError
from canhgac.pipeline.notify.internal import CHANNEL_FAILING_RULE_ID
from canhgac.pipeline.notify.notifiers import notifiers
from canhgac.pipeline.notify.outbox import NotificationRecord, Outbox
from canhgac.pipeline.notify.service import HandleResult, NotifierService, RunReport

__all__ = [
    "CHANNEL_FAILING_RULE_ID",
    "AckTokenError",
    "Clock",
    "DeliveryError",
    "HandleResult",
    "InvalidAlertError",
    "ManualClock",
    "NotificationRecord",
    "NotifierService",
    "NotifyConfig",
    "Outbox",
    "RunReport",
    "SystemClock",
    "notifiers",
]
