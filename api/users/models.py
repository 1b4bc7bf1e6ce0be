from __future__ import annotations

from datetime import datetime

from canhgac.api.auth.models import AGENCY_ROLES, Role
from canhgac.api.auth.passwords import MIN_PASSWORD_CHARS
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,63}$"
AGENCY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


def normalise_username(name: str) -> str:
    """A user name is one name whatever its case or surrounding spaces: `Admin` is `admin`
    everywhere (stored, looked up, compared), so no spelling reaches another account's checks."""
    return name.strip().lower()


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME_PATTERN, description="letters (stored lower-case), digits, . _ -")
    role: Role
    agency: str | None = Field(default=None, pattern=AGENCY_PATTERN)
    display_name: str | None = Field(default=None, max_length=128)
    password: str = Field(
        min_length=MIN_PASSWORD_CHARS, max_length=1024, description="checked for strength (zxcvbn score 3 of 4)"
    )

    @field_validator("username", mode="before")
    @classmethod
    def _normalise(cls, value: object) -> object:
        return normalise_username(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _agency_for_agency_viewer(self) -> UserCreate:
        if self.role in AGENCY_ROLES and not self.agency:
            raise ValueError(f"an {self.role} needs an agency")
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
