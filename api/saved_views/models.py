"""Saved views of the alert queue in `<config_index_prefix>-saved-views`: a named set of the queue's
filters, sort and grouping, private to its owner or shared with the owner's team (the SOC, or the
owner's agency); nobody sees another team's."""

from __future__ import annotations

from typing import Literal

from canhgac.api.alerts.models import GroupBy, SortField
from canhgac.core.alert import Severity, Status
from pydantic import BaseModel, ConfigDict, Field


class ViewFilters(BaseModel):
    """The queue's filters, as the alerts API takes them (`GET /api/v1/alerts`), plus a relative
    time range (last N m/h/d of last seen) and the grouping."""

    model_config = ConfigDict(extra="forbid")

    status: Status | Literal["all"] | None = Field(default=None, description="one status tab, or `all`")
    severity: list[Severity] = Field(default_factory=list, max_length=10)
    rule_id: str | None = Field(default=None, max_length=256)
    agency: str | None = Field(default=None, max_length=64)
    host: str | None = Field(default=None, max_length=256)
    user: str | None = Field(default=None, max_length=256)
    source_ip: str | None = Field(default=None, max_length=64)
    assignee: str | None = Field(default=None, max_length=64)
    range: str | None = Field(default=None, pattern=r"^[1-9][0-9]{0,3}[mhd]$", description="last N m/h/d")
    sort: SortField = "last_seen"
    order: Literal["asc", "desc"] = "desc"
    group_by: GroupBy | None = None


class SavedViewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    filters: ViewFilters
    shared: bool = Field(default=False, description="visible to the owner's team (the SOC, or their agency)")


class SavedView(SavedViewCreate):
    model_config = ConfigDict(extra="ignore")

    id: str
    owner: str
    team: str = Field(description="`soc`, or the owner's agency")
    created_at: str


class SavedViewList(BaseModel):
    items: list[SavedView]
