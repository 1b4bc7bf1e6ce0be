from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EventSearch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(default="*", max_length=4096, description="Lucene query string syntax")
    start: datetime | None = None
    end: datetime | None = None
    size: int = Field(default=50, ge=1, le=500)
    page: int = Field(default=0, ge=0, description="page number; past 10,000 hits use `cursor`")
    cursor: str | None = None


class EventPage(BaseModel):
    total: int
    items: list[dict[str, Any]]
    next: str | None = None
