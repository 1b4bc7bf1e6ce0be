from __future__ import annotations

from datetime import datetime

from canhgac.api.auth.models import Role
from canhgac.api.auth.passwords import MIN_PASSWORD_CHARS
from pydantic import BaseModel, ConfigDict, Field, model_validator

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,63}$"
AGENCY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME_PATTERN, description="lower-case letters, digits, . _ -")
    role: Role
    agency: str | None = Field(default=None, pattern=AGENCY_PATTERN)
    display_name: str | None = Field(default=None, max_length=128)
    password: str = Field(min_length=MIN_PASSWORD_CHARS, max_length=1024)

    @model_validator(mode="after")
    def _agency_for_agency_viewer(self) -> UserCreate:
        if self.role == "agency_viewer" and not self.agency:
            raise ValueError("an agency_viewer needs an agency")
        return self


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    agency: str | None = Field(default=None, pattern=AGENCY_PATTERN)
    display_name: str | None = Field(default=None, max_length=128)
    disabled: bool | None = None
    password: str | None = Field(default=None, min_length=MIN_PASSWORD_CHARS, max_length=1024)


class User(BaseModel):
    username: str
    role: Role
    agency: str | None = None
    display_name: str | None = None
    disabled: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str | None = None


class UserList(BaseModel):
    items: list[User]
