"""Request and response bodies of /api/v1/lookups."""

from __future__ import annotations

from datetime import datetime

from canhgac.core.lookups import MAX_ROWS, LookupRow
from pydantic import BaseModel, ConfigDict, Field


class TablePut(BaseModel):
    """A whole table: created, or replaced (rows and all)."""

    model_config = ConfigDict(extra="forbid")

    description: str = Field(default="", max_length=2000)
    rows: list[LookupRow] = Field(default=[], max_length=MAX_ROWS)


class TableOut(BaseModel):
    name: str
    description: str = ""
    rows: list[LookupRow]
    count: int
    updated_at: datetime | None = None
    updated_by: str | None = None


class TableSummary(BaseModel):
    name: str
    description: str = ""
    count: int
    updated_at: datetime | None = None
    updated_by: str | None = None


class TableList(BaseModel):
    items: list[TableSummary]
