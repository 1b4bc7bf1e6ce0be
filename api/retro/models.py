"""Retro-hunt jobs as the API takes and returns them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


FINISHED = frozenset({JobState.DONE, JobState.CANCELLED, JobState.FAILED})


class JobKind(StrEnum):
    INDICATORS = "indicators"
    RULE = "rule"


class HuntRequest(BaseModel):
    """Start a hunt by hand (a re-run finds its alerts already raised: none twice)."""

    model_config = ConfigDict(extra="forbid")

    indicator_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=10_000, description="indicators to look for"
    )
    rule_id: str | None = Field(default=None, min_length=1, max_length=256, description="a rule to run")
    lookback_days: int | None = Field(default=None, ge=1, le=366, description="default: retro_hunt.lookback_days")

    @model_validator(mode="after")
    def _one_target(self) -> HuntRequest:
        if bool(self.indicator_ids) == bool(self.rule_id):
            raise ValueError("give either indicator_ids or rule_id")
        return self


class Progress(BaseModel):
    percent: float = 0.0
    segment: int = Field(default=0, description="the query being run (one per tenant and indicator chunk)")
    segments: int = 0
    segment_total: int = Field(default=0, description="events the current query matches")


class JobOut(BaseModel):
    id: str
    kind: JobKind
    state: JobState
    trigger: str = Field(description="indicator.add, indicator.import, feed:<id>, rule.upload, rule.replace, manual")
    created_by: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime | None = None
    arrived_at: datetime | None = Field(default=None, description="when the indicators arrived / the rule changed")
    lookback_days: int
    range_start: datetime | None = None
    range_end: datetime | None = None
    indicator_count: int = 0
    rule_id: str | None = None
    progress: Progress = Progress()
    events_scanned: int = 0
    events_matched: int = 0
    alerts_raised: int = Field(default=0, description="new retro alerts")
    alerts_existing: int = Field(default=0, description="groups already alerted (by the stream or an earlier hunt)")
    truncated: str | None = Field(default=None, description="max_events or max_alerts when a bound stopped it")
    unpublished: list[str] = Field(
        default=[], description="new retro alerts Kafka has not acknowledged yet; the job finishes once none is left"
    )
    unpublished_count: int = Field(default=0, description="how many alerts `unpublished` holds (the console shows it)")
    error: str | None = None
    cancel_requested: bool = False
    cancelled_by: str | None = None


class JobList(BaseModel):
    items: list[JobOut]


class JobsStarted(BaseModel):
    items: list[JobOut]
