"""Request and response bodies of /api/v1/lists."""

from __future__ import annotations

from datetime import datetime

from canhgac.core.watchlists import MAX_LIST_VALUES, ListType
from pydantic import BaseModel, ConfigDict, Field


class ListPut(BaseModel):
    """A whole list: created, or replaced (values and all)."""

    model_config = ConfigDict(extra="forbid")

    type: ListType = Field(description="`ip` (addresses and networks) or `string` (text, caseless)")
    description: str = Field(default="", max_length=2000)
    values: list[str] = Field(default=[], max_length=MAX_LIST_VALUES)


class ListEdit(BaseModel):
    """Values to add and to remove (applied in that order)."""

    model_config = ConfigDict(extra="forbid")

    add: list[str] = Field(default=[], max_length=MAX_LIST_VALUES)
    remove: list[str] = Field(default=[], max_length=MAX_LIST_VALUES)


class ListOut(BaseModel):
    name: str
    type: ListType
    description: str = ""
    values: list[str]
    count: int
    updated_at: datetime | None = None
    updated_by: str | None = None


class ListSummary(BaseModel):
    name: str
    type: ListType
    description: str = ""
    count: int
    updated_at: datetime | None = None
    updated_by: str | None = None


class ListList(BaseModel):
    items: list[ListSummary]
