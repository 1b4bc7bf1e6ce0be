from __future__ import annotations

from canhgac.api.cases.models import CaseStatus
from canhgac.core.alert import Resolution, Severity, Status
from pydantic import BaseModel, Field


class SeverityInfo(BaseModel):
    value: Severity
    score: int = Field(description="what alerts sort on (`severity_score`)")


class Vocabulary(BaseModel):
    """The alert contract's words (canhgac.core.alert). Labels are the console's (vi/en), keyed by
    these values."""

    severities: list[SeverityInfo] = Field(description="lowest first")
    statuses: list[Status] = Field(description="in workflow order")
    transitions: dict[Status, list[Status]] = Field(description="status -> the statuses it may move to")
    resolutions: list[Resolution] = Field(description="one is required when closing an alert")
    soc_agency: str = Field(description="the `agency` of alerts that belong to the SOC (cross-agency correlations)")
    case_statuses: list[CaseStatus] = Field(description="case (incident) statuses, in workflow order")
    case_transitions: dict[CaseStatus, list[CaseStatus]] = Field(
        description="case status -> the statuses it may move to"
    )
