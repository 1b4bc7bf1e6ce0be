from __future__ import annotations

from canhgac.api.events.models import Histogram, TopValues
from pydantic import BaseModel, Field


class Dashboard(BaseModel):
    start: str = Field(description="ISO 8601")
    end: str = Field(description="ISO 8601")
    alerts_by_severity: Histogram = Field(description="alerts over time, split by severity")
    alerts_by_status: TopValues
    top_rules: TopValues
    top_hosts: TopValues
    ingestion_by_source: Histogram = Field(description="events over time, split by source id")
