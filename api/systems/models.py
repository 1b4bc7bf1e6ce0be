from __future__ import annotations

import re

from canhgac.core.systems import Contact, Criticality, SecurityLevel
from pydantic import BaseModel, ConfigDict, Field, field_validator

SLUG = r"^[a-z0-9][a-z0-9._-]*$"
MAX_HOSTS = 1000
MAX_SOURCES = 200


def _hosts(values: list[str]) -> list[str]:
    """Host names compare case-insensitively: kept lower-cased, each once, in the order given."""
    cleaned = [v.strip().lower() for v in values if v.strip()]
    for host in cleaned:
        if len(host) > 253 or any(c.isspace() for c in host):
            raise ValueError(f"not a host name or address: {host!r}")
    return list(dict.fromkeys(cleaned))


def _sources(values: list[str]) -> list[str]:
    for value in values:
        if not re.fullmatch(SLUG, value) or len(value) > 64:
            raise ValueError(f"not a source id: {value!r}")
    return list(dict.fromkeys(values))


class SystemFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="e.g. Cổng Dịch vụ công tỉnh")
    agency: str = Field(min_length=1, max_length=64, description="owner agency")
    security_level: SecurityLevel = Field(description="cấp độ 1–5 (Decree 85/2016, Circular 12/2022)")
    criticality: Criticality = Criticality.MEDIUM
    hosts: list[str] = Field(default=[], max_length=MAX_HOSTS, description="host names or addresses")
    sources: list[str] = Field(default=[], max_length=MAX_SOURCES, description="source ids")
    contacts: list[Contact] = Field(default=[], max_length=20)
    description: str | None = Field(default=None, max_length=2000)

    @field_validator("hosts")
    @classmethod
    def _clean_hosts(cls, values: list[str]) -> list[str]:
        return _hosts(values)

    @field_validator("sources")
    @classmethod
    def _clean_sources(cls, values: list[str]) -> list[str]:
        return _sources(values)


class SystemCreate(SystemFields):
    id: str = Field(min_length=1, max_length=64, pattern=SLUG)


class SystemUpdate(BaseModel):
    """Only the fields given change; lists are replaced whole."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    agency: str | None = Field(default=None, min_length=1, max_length=64)
    security_level: SecurityLevel | None = None
    criticality: Criticality | None = None
    hosts: list[str] | None = Field(default=None, max_length=MAX_HOSTS)
    sources: list[str] | None = Field(default=None, max_length=MAX_SOURCES)
    contacts: list[Contact] | None = Field(default=None, max_length=20)
    description: str | None = Field(default=None, max_length=2000)

    @field_validator("hosts")
    @classmethod
    def _clean_hosts(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else _hosts(values)

    @field_validator("sources")
    @classmethod
    def _clean_sources(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else _sources(values)


class System(SystemCreate):
    model_config = ConfigDict(extra="ignore")

    created_at: str | None = None
    created_by: str | None = None
    updated_at: str | None = None
    updated_by: str | None = None


class SystemList(BaseModel):
    items: list[System]


class ImportProblem(BaseModel):
    line: int = Field(description="line of the CSV file, the header being line 1")
    message: str


class ImportResult(BaseModel):
    created: list[str]
    updated: list[str]
