"""Sources declared through the API (admins), next to the ones in the settings file."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Literal

from canhgac.core.config import Transport
from canhgac.core.errors import ConfigError
from canhgac.core.timezones import parse_zone
from pydantic import BaseModel, ConfigDict, Field, field_validator


class SourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    agency: str = Field(min_length=1, max_length=64)
    format: str = Field(
        default="syslog",
        min_length=1,
        max_length=64,
        description="a parser's name or an alias (stored as the name); an unknown one is a 400 naming the known ones",
    )
    transports: list[Transport] = Field(default_factory=list, description="empty: every transport")
    allowed_addresses: list[str] = Field(default_factory=list, max_length=256, description="IPs or CIDR networks")
    security_level: Literal[1, 2, 3, 4, 5] = 3
    expected_interval_secs: int = Field(default=3600, ge=1)
    timezone: str = Field(
        default="Asia/Ho_Chi_Minh", max_length=64, description="IANA name, UTC, or a fixed offset such as +07:00"
    )
    enabled: bool = Field(default=True, description="false: declared, but its records are refused")

    @field_validator("allowed_addresses")
    @classmethod
    def networks(cls, values: list[str]) -> list[str]:
        return parse_networks(values)

    @field_validator("timezone")
    @classmethod
    def zone(cls, value: str) -> str:
        return known_zone(value)


def parse_networks(values: list[str]) -> list[str]:
    out = []
    for value in values:
        try:
            out.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError as exc:
            raise ValueError(f"not an IP address or network: {value!r}") from exc
    return out


def known_zone(value: str) -> str:
    try:
        parse_zone(value)
    except ConfigError as exc:
        raise ValueError(exc.message) from exc
    return value


class SourceUpdate(BaseModel):
    """An edit of an API-declared source: only the fields given change (the id and key do not;
    rotate the key with POST …/key). Takes effect in every component within `sources_refresh_secs`."""

    model_config = ConfigDict(extra="forbid")

    agency: str | None = Field(default=None, min_length=1, max_length=64)
    format: str | None = Field(default=None, min_length=1, max_length=64)
    transports: list[Transport] | None = None
    allowed_addresses: list[str] | None = Field(default=None, max_length=256)
    security_level: Literal[1, 2, 3, 4, 5] | None = None
    expected_interval_secs: int | None = Field(default=None, ge=1)
    timezone: str | None = Field(default=None, max_length=64)
    enabled: bool | None = None

    @field_validator("allowed_addresses")
    @classmethod
    def networks(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else parse_networks(values)

    @field_validator("timezone")
    @classmethod
    def zone(cls, value: str | None) -> str | None:
        return None if value is None else known_zone(value)


class SourceOut(SourceCreate):
    declared: bool = True
    origin: Literal["api"] = "api"
    created_at: datetime
    created_by: str
    updated_at: datetime | None = None
    updated_by: str | None = None
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
    enabled: bool | None = None
    created_at: str | None = None
    updated_at: str | None = None
    updated_by: str | None = None
    created_by: str | None = None
    key_rotated_at: str | None = None
    has_ingest_key: bool | None = None
    health: SourceHealth | None = None


class SourceList(BaseModel):
    items: list[SourceRow]


class ShipperConfigsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ingest_key: str | None = Field(
        default=None,
        max_length=256,
        description="the key shown at creation or rotation; checked against the stored hash (400 if not the "
        "source's current key). Omitted: a placeholder stands in the configurations.",
    )


class ShipperConfigOut(BaseModel):
    shipper: Literal["rsyslog", "syslog-ng", "nxlog", "winlogbeat", "fluent-bit"]
    file_name: str
    text: str
    uses_key: bool = Field(description="false: syslog, the collector knows the sender by its address")
    doc: str


class ShipperConfigs(BaseModel):
    source_id: str
    allowed_addresses: list[str] = Field(description="where syslog senders of this source may connect from")
    key_filled: bool
    items: list[ShipperConfigOut]


class OnboardingStatus(BaseModel):
    """Read from the stored events: "received" means through the whole pipeline."""

    source_id: str
    received: bool = Field(description="at least one of the source's events is stored")
    events_total: int
    first_event_at: str | None = None
    last_event_at: str | None = None
    last_hour_events: int
    last_hour_parse_errors: int = Field(description="stored as event.kind pipeline_error (and dead-lettered)")
    last_hour_parse_error_rate: float | None = Field(default=None, description="None: nothing in the last hour")
