"""An entity page's answer: what is known about one host, user or IP address."""

from __future__ import annotations

from typing import Literal

from canhgac.api.alerts.models import AlertPage
from canhgac.api.events.models import Bucket, ValueCount
from pydantic import BaseModel, Field

EntityKind = Literal["host", "user", "ip"]


class EntityEvents(BaseModel):
    total: int = Field(description="events naming the entity in the window")
    first_seen: str | None = Field(default=None, description="the oldest such event in the window")
    last_seen: str | None = None
    interval_secs: int
    buckets: list[Bucket] = Field(description="events over time")
    agencies: list[ValueCount]
    sources: list[ValueCount]
    datasets: list[ValueCount]


class Entity(BaseModel):
    kind: EntityKind
    value: str
    start: str
    end: str
    event_fields: list[str] = Field(description="the event fields searched (any of them names the entity)")
    alert_fields: list[str]
    events: EntityEvents
    alerts: AlertPage = Field(description="its alerts, newest first (summaries)")
