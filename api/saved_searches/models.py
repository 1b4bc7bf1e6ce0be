from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SavedSearchCreate(BaseModel):
    """A search as the console runs it: a relative range (`15m`, `24h`, `7d` …) or an absolute one."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    target: Literal["events", "alerts"] = "events"
    query: str = Field(default="*", max_length=4096, description="Lucene query string syntax")
    range: str | None = Field(default="24h", pattern=r"^[1-9][0-9]{0,3}[mhd]$", description="relative: last N m/h/d")
    start: datetime | None = Field(default=None, description="absolute range (with a zone); replaces `range`")
    end: datetime | None = None
    zone: str = Field(default="Asia/Ho_Chi_Minh", max_length=64, description="the zone the range was picked in")
    shared: bool = Field(default=False, description="visible to the owner's team (the SOC, or their agency)")

    @model_validator(mode="after")
    def one_range(self) -> SavedSearchCreate:
        if (self.start is None) != (self.end is None):
            raise ValueError("give both start and end, or neither (a relative `range`)")
        if self.start is None and self.range is None:
            raise ValueError("give a relative `range` or `start` and `end`")
        if self.start is not None:
            self.range = None
        return self


class SavedSearch(SavedSearchCreate):
    model_config = ConfigDict(extra="ignore")

    id: str
    owner: str
    team: str = Field(description="`soc`, or the owner's agency")
    created_at: str


class SavedSearchList(BaseModel):
    items: list[SavedSearch]
