"""Sources declared through the API (admins), next to the ones in the settings file."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from canhgac.core.config import Transport
from canhgac.core.formats import canonical_format, known_formats
from pydantic import BaseModel, ConfigDict, Field, field_validator


class SourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    agency: str = Field(min_length=1, max_length=64)
    format: str = Field(
        default="syslog", min_length=1, max_length=64, description="a parser's name or an alias (stored as the name)"
    )
    transports: list[Transport] = Field(default_factory=list, description="empty: every transport")
    allowed_addresses: list[str] = Field(default_factory=list, max_length=256, description="IPs or CIDR networks")
    security_level: Literal[1, 2, 3, 4, 5] = 3
    expected_interval_secs: int = Field(default=3600, ge=1)
    timezone: str = Field(default="Asia/Ho_Chi_Minh", max_length=64)

    @field_validator("allowed_addresses")
    @classmethod
    def networks(cls, values: list[str]) -> list[str]:
        out = []
        for value in values:
            try:
                out.append(str(ipaddress.ip_network(value.strip(), strict=False)))
            except ValueError as exc:
                raise ValueError(f"not an IP address or network: {value!r}") from exc
        return out

    @field_validator("format")
    @classmethod
    def known_format(cls, value: str) -> str:
        canonical = canonical_format(value)
        if canonical is None:
            raise ValueError(f"unknown format {value!r}; known: {known_formats()}")
        return canonical

    @field_validator("timezone")
    @classmethod
    def zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like Asia/Ho_Chi_Minh)") from exc
        return value


class SourceOut(SourceCreate):
    declared: bool = True
    origin: Literal["api"] = "api"
    created_at: datetime
    created_by: str
    key_rotated_at: datetime | None = None
    has_ingest_key: bool


class SourceCreated(SourceOut):
    ingest_key: str = Field(description="shown once: only its SHA-256 is stored")


class IngestKey(BaseModel):
    source_id: str
    ingest_key: str = Field(description="shown once: only its SHA-256 is stored")
    key_rotated_at: datetime


class SourceHealth(BaseModel):
    """What the source-health stage last wrote about a source (`<prefix>-sources`)."""

    id: str | None = None
    agency: str | None = None
    last_seen: str | None = Field(default=None, description="ISO 8601: the last event's arrival")
    events_per_sec: float | None = Field(default=None, description="over the last minute")
    parse_error_rate: float | None = None
    events_total: int | None = None
    parse_errors_total: int | None = None
    expected_interval_secs: int | None = None
    silent: bool | None = Field(default=None, description="no event for longer than expected")
    silent_since: str | None = None
    updated_at: str | None = None


class SourceRow(BaseModel):
    """One source: declared (in the settings file or through the API), seen by the health stage,
    or both. Fields a source does not have are left out of the answer, not null."""

    id: str
    declared: bool = Field(description="false: seen sending, but declared nowhere")
    origin: Literal["api", "settings"] | None = Field(default=None, description="where it is declared")
    agency: str | None = None
    format: str | None = None
    transports: list[Transport] | None = None
    allowed_addresses: list[str] | None = None
    security_level: int | None = None
    expected_interval_secs: int | None = None
    timezone: str | None = None
    created_at: str | None = None
    created_by: str | None = None
    key_rotated_at: str | None = None
    has_ingest_key: bool | None = None
    health: SourceHealth | None = None


class SourceList(BaseModel):
    items: list[SourceRow]
