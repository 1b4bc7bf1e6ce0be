"""Request and response models of the alerts API. The vocabulary and the alert itself are the
alert contract's (canhgac.core.alert); responses are validated against it and keep the stored
document's fields (routes set `response_model_exclude_unset`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from canhgac.core.alert import Alert, Resolution, Status
from pydantic import BaseModel, ConfigDict, Field, model_validator

SortField = Literal["last_seen", "first_seen", "severity", "count", "status", "priority"]


GroupBy = Literal["rule", "host", "agency"]


class AlertGroup(BaseModel):
    key: str = Field(description="the value to filter the list by (`rule_id`, `host` or `agency`)")
    label: str = Field(description="what to show: a rule's title, else the key")
    count: int


class AlertGroups(BaseModel):
    by: GroupBy
    total: int = Field(description="alerts matching the filters")
    groups: list[AlertGroup]
    other: int = Field(description="alerts in groups past the ones listed")
    missing: int = Field(description="alerts without a value to group by")


class AlertPage(BaseModel):
    total: int
    items: list[Alert] = Field(description="summaries: without the event snapshot, comments and history")
    next: str | None = None


class AlertDetail(Alert):
    """One alert with the events that matched, fetched by id from the event data streams."""

    events: list[dict[str, Any]] = Field(default_factory=list)


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status
    resolution: Resolution | None = Field(default=None, description="required when closing")
    comment: str | None = Field(default=None, max_length=10_000)

    @model_validator(mode="after")
    def _resolution_when_closing(self) -> StatusChange:
        if self.status == Status.CLOSED and self.resolution is None:
            raise ValueError(f"closing an alert needs a resolution: {', '.join(Resolution)}")
        if self.status != Status.CLOSED and self.resolution is not None:
            raise ValueError("a resolution is given only when closing")
        return self


class AssigneeChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: str | None = Field(default=None, max_length=64, description="user name; null unassigns")


class NewComment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=10_000)


class BulkAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\s/]+$")]] = Field(
        min_length=1, max_length=200
    )
    status: Status | None = None
    resolution: Resolution | None = None
    assignee: str | None = Field(default=None, max_length=64)
    unassign: bool = False
    comment: str | None = Field(default=None, max_length=10_000)

    @model_validator(mode="after")
    def _something_to_do(self) -> BulkAction:
        if self.status is None and self.assignee is None and not self.unassign and not self.comment:
            raise ValueError("nothing to do: give status, assignee, unassign or comment")
        if self.status == Status.CLOSED and self.resolution is None:
            raise ValueError("closing alerts needs a resolution")
        return self


class BulkItem(BaseModel):
    id: str
    ok: bool
    status: Status | None = Field(default=None, description="the alert's status after the change")
    assignee: str | None = None
    error: str | None = Field(default=None, description="why this alert was not changed")


class BulkResult(BaseModel):
    updated: list[str]
    failed: dict[str, str]
    results: list[BulkItem] = Field(description="one per distinct id asked, in the order asked")


class AlertSearch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(default="*", max_length=4096, description="Lucene query string syntax")
    start: datetime | None = None
    end: datetime | None = None
    size: int = Field(default=50, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=2048)
