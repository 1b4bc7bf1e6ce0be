"""The notifier's outbox as the API shows it (no message body beyond the subject)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

NotificationStatus = Literal["pending", "sending", "sent", "retrying", "failed", "cancelled"]


class Notification(BaseModel):
    id: str = Field(description="also the idempotency key the channel receives")
    kind: str
    route: str | None = None
    channel: str
    subject: str
    alert_ids: list[str]
    status: NotificationStatus
    attempts: int
    next_attempt_at: str | None = Field(description="ISO 8601; null unless pending or retrying")
    last_error: str | None
    created_at: str | None
    updated_at: str | None
    sent_at: str | None


class NotificationList(BaseModel):
    items: list[Notification] = Field(description="oldest first")
