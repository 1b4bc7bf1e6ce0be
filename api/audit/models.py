from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Actor(BaseModel):
    """Who acted: a logged-in principal, or only a name (a failed login, the ack link)."""

    username: str
    role: str | None = None
    agency: str | None = None
    via: str | None = Field(default=None, description="session or token")


class Target(BaseModel):
    type: str
    id: str | None = None


class Client(BaseModel):
    ip: str | None = None


class AuditRecord(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    timestamp: str = Field(alias="@timestamp", description="ISO 8601, UTC")
    actor: Actor
    action: str = Field(description="e.g. user.create, alert.status, auth.login")
    outcome: str = Field(description="success or failure")
    target: Target
    client: Client
    details: dict[str, Any] = Field(description="what changed; its fields depend on the action")
    tenant: str | None = Field(default=None, description="whose hash chain: the actor's agency, or soc")
    seq: int | None = Field(default=None, description="position in the tenant's chain, from 1")
    prev_hash: str | None = Field(default=None, description="hash of the tenant's record seq - 1")
    hash: str | None = Field(default=None, description="SHA-256 of this record's canonical JSON without hash")


class AuditPage(BaseModel):
    total: int
    items: list[AuditRecord] = Field(description="newest first")
    next: str | None = Field(default=None, description="cursor of the next page; null on the last one")
