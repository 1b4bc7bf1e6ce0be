from __future__ import annotations

from pydantic import BaseModel


class CategoryCoverage(BaseModel):
    category: str
    required: bool
    # ok: required and arriving (or not required and seen); missing; not_required: neither.
    status: str
    last_seen: str | None = None
    missing_since: str | None = None


class OpenCoverageAlert(BaseModel):
    alert_id: str
    category: str
    missing_since: str | None = None


class SystemCoverage(BaseModel):
    system_id: str
    name: str | None = None
    agency: str | None = None
    security_level: int
    watched_since: str | None = None
    missing_after_secs: int | None = None
    categories: list[CategoryCoverage]
    missing: list[str]
    open_alerts: list[OpenCoverageAlert]
    updated_at: str | None = None


class CoverageList(BaseModel):
    items: list[SystemCoverage]


class LevelRequirement(BaseModel):
    level: int
    requires: list[str]
    missing_after_secs: int
    note: str | None = None


class CategoryRule(BaseModel):
    category: str
    # Any one condition classifies an event: field -> accepted values (all fields of a condition).
    conditions: list[dict[str, list[str]]]


class PolicyView(BaseModel):
    levels: list[LevelRequirement]
    categories: list[CategoryRule]
