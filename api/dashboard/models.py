from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Dashboard(BaseModel):
    start: str
    end: str
    alerts_by_severity: dict[str, Any]
    alerts_by_status: dict[str, Any]
    top_rules: dict[str, Any]
    top_hosts: dict[str, Any]
    ingestion_by_source: dict[str, Any]
