from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# An event is an ECS document whose fields depend on its source (winlog.event_data.* alone has
# thousands of names): the one genuinely open-ended shape the API returns.
Event = dict[str, Any]


class EventSearch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(default="*", max_length=4096, description="Lucene query string syntax")
    start: datetime | None = None
    end: datetime | None = None
    size: int = Field(default=50, ge=1, le=500)
    page: int = Field(default=0, ge=0, le=10_000, description="page number; past 10,000 hits use `cursor`")
    cursor: str | None = Field(default=None, max_length=2048)
    archive_day: date | None = Field(
        default=None,
        description="search this archived day, restored with `canhgac archive restore`, instead of the live events",
    )


class EventPage(BaseModel):
    total: int
    items: list[Event] = Field(description="ECS events, newest first")
    next: str | None = Field(default=None, description="cursor of the next page; null on the last one")


class HistogramRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(default="*", max_length=4096, description="Lucene query string syntax")
    start: datetime | None = Field(default=None, description="default: 24 hours before `end`")
    end: datetime | None = Field(default=None, description="default: now")
    interval_secs: int | None = Field(default=None, ge=1, le=31 * 86400, description="default: automatic")
    split_field: str | None = Field(default=None, max_length=128, description="split bars by this field")


class TopRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(max_length=128, description="a keyword field, e.g. host.name")
    query: str = Field(default="*", max_length=4096)
    start: datetime | None = None
    end: datetime | None = None
    size: int = Field(default=10, ge=1, le=100)


class Bucket(BaseModel):
    t: str | int = Field(description="start of the bucket (ISO 8601, or epoch milliseconds)")
    count: int
    # Present only when the histogram is split by a field: absent, not null, otherwise.
    split: dict[str, int] | None = Field(
        default=None, exclude_if=lambda v: v is None, description="count per value of `split_field`"
    )


class Histogram(BaseModel):
    interval_secs: int
    total: int
    buckets: list[Bucket]


class ValueCount(BaseModel):
    value: str | int | float | bool
    count: int


class TopValues(BaseModel):
    field: str
    total: int
    values: list[ValueCount]
    other: int = Field(default=0, description="documents whose value is not among `values`")


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(default="*", max_length=4096, description="Lucene query string syntax")
    start: datetime | None = Field(default=None, description="default: 24 hours before `end`")
    end: datetime | None = Field(default=None, description="default: now")
    format: Literal["csv", "ndjson"] = "csv"
    fields: list[str] | None = Field(
        default=None, max_length=50, description="CSV columns (dotted ECS names); default: time, agency, source, …"
    )
    limit: int | None = Field(default=None, ge=1, description="at most `api.max_export_rows` (the default)")
