"""Settings of the periodic reports (báo cáo định kỳ) and of the e-mail that carries them and the
signed daily receipts (api/reports, docs/agencies.md).

`reports.schedules` lists what is sent: a period (`daily`, `weekly` Monday-Sunday, `monthly`), a
scope (`province`: one report of every agency, to `province_recipients`; `agencies`: one report per
agency named in `agency_recipients`, to that agency's addresses only) and the local time `at` on the
first day after the period when it goes out. Nothing is e-mailed without `smtp`.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_AGENCY = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _addresses(values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        if not _EMAIL.match(value):
            raise ValueError(f"not an e-mail address: {value!r}")
    return values


class SmtpConfig(_Strict):
    """The relay the API process sends reports and receipts through (the notifier's e-mail channels
    are separate: they carry alerts)."""

    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    # The password, never in the settings: an environment variable or a file that holds it.
    password_env: str | None = None
    password_file: str | None = None
    from_addr: str = Field(pattern=_EMAIL.pattern)
    from_name: str = "Canhgac SOC"
    timeout_secs: float = Field(default=30.0, gt=0)
    # An extra CA bundle to trust (a relay with a private CA); certificates are always verified.
    ca_file: str | None = None

    @model_validator(mode="after")
    def _auth(self) -> SmtpConfig:
        if self.username is not None:
            if (self.password_env is None) == (self.password_file is None):
                raise ValueError("give exactly one of password_env, password_file with username")
            if self.security == "none":
                raise ValueError("refusing to send an SMTP password without TLS (security: none)")
        return self


class ReportSchedule(_Strict):
    period: Literal["daily", "weekly", "monthly"]
    scope: Literal["province", "agencies"]
    # Local time (settings.timezone) on the first day after the period at which it is sent.
    at: str = Field(default="07:00", pattern=_HHMM)


class ReportsConfig(_Strict):
    smtp: SmtpConfig | None = None
    # Who receives the province's reports.
    province_recipients: tuple[str, ...] = ()
    # Agency -> who receives its reports and (with `email_receipts`) its sources' signed receipts.
    agency_recipients: dict[str, tuple[str, ...]] = {}
    schedules: tuple[ReportSchedule, ...] = ()
    # E-mail each agency its sources' receipts of a day once they are sealed (receipts.signing_key_file).
    email_receipts: bool = False
    check_interval_secs: float = Field(default=300.0, gt=0)
    # Rules listed in "top rules", and the silences / coverage gaps listed before "and N more".
    top_rules: int = Field(default=10, ge=1, le=50)
    max_listed: int = Field(default=50, ge=1, le=500)
    # Time to acknowledge/close is computed over at most this many alerts of the period (the newest);
    # the report says when the period had more.
    max_alerts_timed: int = Field(default=20_000, ge=1, le=200_000)

    _addresses_province = field_validator("province_recipients")(_addresses)

    @field_validator("agency_recipients")
    @classmethod
    def _agencies(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for agency, addresses in value.items():
            if not _AGENCY.match(agency):
                raise ValueError(f"not an agency id: {agency!r}")
            _addresses(addresses)
        return value

    @model_validator(mode="after")
    def _mail(self) -> ReportsConfig:
        if (self.schedules or self.email_receipts) and self.smtp is None:
            raise ValueError("schedules and email_receipts send e-mail: configure reports.smtp")
        if any(s.scope == "province" for s in self.schedules) and not self.province_recipients:
            raise ValueError("a province schedule needs province_recipients")
        if any(s.scope == "agencies" for s in self.schedules) and not self.agency_recipients:
            raise ValueError("an agencies schedule needs agency_recipients")
        return self
