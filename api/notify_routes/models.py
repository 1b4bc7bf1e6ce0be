"""The agencies' own notification routes as the API takes and returns them (core/agency_routes.py)."""

from __future__ import annotations

from canhgac.core.alert import Severity
from pydantic import BaseModel, ConfigDict, Field


class RouteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_severity: Severity | None = Field(default=None, description="the agency's alerts from this severity up")
    channels: list[str] = Field(min_length=1, max_length=10, description="names from notify.agency_channels")
    enabled: bool = True


class AgencyRouteOut(BaseModel):
    agency: str
    name: str
    min_severity: Severity | None = None
    channels: list[str]
    enabled: bool
    updated_by: str | None = None
    updated_at: str | None = None


class AgencyRouteList(BaseModel):
    items: list[AgencyRouteOut]
    channels: list[str] = Field(description="the channels the caller's agency may use (all for admins)")
