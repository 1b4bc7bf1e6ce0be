from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, IPvAnyAddress, model_validator

Role = Literal["admin", "analyst", "viewer", "agency_viewer", "agency_analyst"]
ROLES: tuple[str, ...] = get_args(Role)
# Roles bound to one agency: every query is limited to it, and they need an agency to exist.
AGENCY_ROLES: frozenset[str] = frozenset({"agency_viewer", "agency_analyst"})


class Permission(StrEnum):
    READ = "read"  # alerts, events, search, dashboards, rules, sources
    # Rule exceptions name hosts, users and addresses of every agency: not for agency viewers.
    READ_TUNING = "read_tuning"
    TRIAGE = "triage"  # alert status, assignee, comments
    TUNE = "tune"  # rule tests, exceptions
    MANAGE_RULES = "manage_rules"  # enable/disable, upload
    ADMIN = "admin"  # users, audit log
    # An agency asks the SOC for an exception on its own events; an analyst approves or rejects it.
    REQUEST_EXCEPTION = "request_exception"
    # Notification routes of an agency (an agency analyst: its own agency's only).
    MANAGE_ROUTES = "manage_routes"


ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "admin": frozenset(Permission),
    "analyst": frozenset({Permission.READ, Permission.READ_TUNING, Permission.TRIAGE, Permission.TUNE}),
    "viewer": frozenset({Permission.READ, Permission.READ_TUNING}),
    "agency_viewer": frozenset({Permission.READ}),
    # Triage of its own agency's alerts and cases only (the routes check the alert's or case's
    # agency); no tuning, no assignment, no rule tests.
    "agency_analyst": frozenset(
        {Permission.READ, Permission.TRIAGE, Permission.REQUEST_EXCEPTION, Permission.MANAGE_ROUTES}
    ),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling. `agency_scope` is the agency every query is limited to, or None for all."""

    username: str
    role: str
    agency: str | None
    via: Literal["session", "token"]
    credential_id: str
    csrf_token: str | None = None

    @property
    def agency_scope(self) -> str | None:
        # An agency user without an agency sees nothing rather than everything.
        return (self.agency or "\x00none") if self.role in AGENCY_ROLES else None

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS.get(self.role, frozenset())


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenRequest(LoginRequest):
    name: str = Field(default="script", min_length=1, max_length=64, description="what the token is for")
    ttl_days: int = Field(default=30, ge=1, le=365)


class Me(BaseModel):
    username: str
    role: str
    agency: str | None
    permissions: list[str]
    csrf_token: str | None = None
    expires_at: datetime | None = None


class Unlock(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str | None = Field(default=None, min_length=1, max_length=64)
    address: IPvAnyAddress | None = None

    @model_validator(mode="after")
    def _something(self) -> Unlock:
        if self.username is None and self.address is None:
            raise ValueError("give username, address or both")
        return self


class Unlocked(BaseModel):
    username: str | None
    address: str | None
    removed: int = Field(description="waits lifted on this API replica (the others apply the recorded unlock)")


class TokenResponse(BaseModel):
    token: str
    token_type: Literal["bearer"] = "bearer"
    name: str
    expires_at: datetime
