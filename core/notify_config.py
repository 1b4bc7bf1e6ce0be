"""Typed notification settings: channels, routes, rotations, noise control, delivery.

Pure pydantic on top of `canhgac.core` only, so the composition root can hang `NotifyConfig`
under the process settings. Secrets are never values here: options ending in `_env` name an
environment variable and options ending in `_file` name a file that holds the secret.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from canhgac.core.alert import Severity
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


def parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeWindow(Strict):
    """A daily window in local time; `end` before `start` wraps past midnight (22:00-06:00).
    `weekdays` (0 = Monday) are the days the window *starts* on."""

    start: str = Field(pattern=_HHMM)
    end: str = Field(pattern=_HHMM)
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(d < 0 or d > 6 for d in value):
            raise ValueError("weekdays must be a non-empty list of 0 (Monday) .. 6 (Sunday)")
        return value

    def contains(self, local: datetime) -> bool:
        start, end, now = parse_hhmm(self.start), parse_hhmm(self.end), local.time()
        if start <= end:
            return start <= now < end and local.weekday() in self.weekdays
        if now >= start:
            return local.weekday() in self.weekdays
        if now < end:
            return (local.weekday() - 1) % 7 in self.weekdays
        return False


class _SecretChoice(Strict):
    """Exactly one way to name a secret (`<x>_env`/`<x>_file`), checked by subclasses."""

    @staticmethod
    def _exactly_one(kind: str, *values: object) -> None:
        if sum(v is not None for v in values) != 1:
            raise ValueError(f"give exactly one of {kind}")


class EmailChannel(_SecretChoice):
    type: Literal["email"]
    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    from_addr: str
    from_name: str = "Canhgac"
    to: tuple[str, ...] = Field(min_length=1)
    timeout_secs: float = Field(default=20.0, gt=0)
    # An extra CA bundle to trust, for a relay with a private CA; certificates are always verified.
    ca_file: str | None = None
    message_id_domain: str = "canhgac.local"

    @model_validator(mode="after")
    def _auth(self) -> EmailChannel:
        if self.username is not None:
            self._exactly_one("password_env, password_file", self.password_env, self.password_file)
            if self.security == "none":
                raise ValueError("refusing to send an SMTP password without TLS (security: none)")
        return self


class TelegramChannel(_SecretChoice):
    type: Literal["telegram"]
    base_url: str = "https://api.telegram.org"
    token_env: str | None = None
    token_file: str | None = None
    chat_id: str
    message_thread_id: int | None = None
    disable_notification: bool = False
    timeout_secs: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _token(self) -> TelegramChannel:
        self._exactly_one("token_env, token_file", self.token_env, self.token_file)
        return self


class WebhookChannel(_SecretChoice):
    type: Literal["webhook"]
    url: str
    headers: dict[str, str] = {}
    # Header name -> environment variable holding its value (an Authorization header, say).
    header_envs: dict[str, str] = {}
    secret_env: str | None = None
    secret_file: str | None = None
    signature_header: str = "X-Canhgac-Signature"
    timestamp_header: str = "X-Canhgac-Timestamp"
    idempotency_header: str = "Idempotency-Key"
    timeout_secs: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _secret(self) -> WebhookChannel:
        if self.secret_env is not None and self.secret_file is not None:
            raise ValueError("give at most one of secret_env, secret_file")
        return self


class _UrlSecret(_SecretChoice):
    """Incoming-webhook URLs are credentials: anyone holding one can post."""

    url: str | None = None
    url_env: str | None = None
    url_file: str | None = None

    @model_validator(mode="after")
    def _url(self) -> _UrlSecret:
        self._exactly_one("url, url_env, url_file", self.url, self.url_env, self.url_file)
        return self


class SlackChannel(_UrlSecret):
    """Slack or Mattermost incoming webhook (both accept `text` + legacy `attachments`)."""

    type: Literal["slack"]
    channel: str | None = None
    username: str | None = "Canhgac"
    icon_url: str | None = None
    timeout_secs: float = Field(default=10.0, gt=0)


class TeamsChannel(_UrlSecret):
    type: Literal["teams"]
    card: Literal["adaptive", "messagecard"] = "adaptive"
    timeout_secs: float = Field(default=10.0, gt=0)


ChannelConfig = Annotated[
    EmailChannel | TelegramChannel | WebhookChannel | SlackChannel | TeamsChannel,
    Field(discriminator="type"),
]


class RotationMember(Strict):
    name: str
    channels: tuple[str, ...] = Field(min_length=1)


class RotationOverride(Strict):
    date: date
    member: str


class RotationConfig(Strict):
    """Weekly rota: member i is on call from start_date + 7i days at handoff_time (local) for a
    week, round-robin. An override hands one whole local calendar date to someone else."""

    members: tuple[RotationMember, ...] = Field(min_length=1)
    start_date: date
    handoff_time: str = Field(default="08:00", pattern=_HHMM)
    overrides: tuple[RotationOverride, ...] = ()

    @model_validator(mode="after")
    def _overrides(self) -> RotationConfig:
        names = {m.name for m in self.members}
        for o in self.overrides:
            if o.member not in names:
                raise ValueError(f"override on {o.date} names unknown member {o.member!r}")
        return self


class EscalationStep(Strict):
    """Minutes are counted from the first notification, not from the previous step."""

    after_mins: float = Field(gt=0)
    channels: tuple[str, ...] = ()
    rotation: str | None = None


class ThrottleConfig(Strict):
    """At most `max_messages` messages per route in any `per_secs`; the rest wait for a summary."""

    max_messages: int = Field(ge=1)
    per_secs: float = Field(gt=0)


class RouteMatch(Strict):
    """All given conditions must hold; a list condition holds when any of its values matches."""

    min_severity: Severity | None = None
    agencies: tuple[str, ...] = ()
    source_ids: tuple[str, ...] = ()
    rule_ids: tuple[str, ...] = ()
    tags_any: tuple[str, ...] = ()
    time_of_day: TimeWindow | None = None

    def is_catch_all(self) -> bool:
        return self == RouteMatch()


class RouteConfig(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    match: RouteMatch = RouteMatch()
    channels: tuple[str, ...] = ()
    rotation: str | None = None
    continue_matching: bool = False
    # Alerts of one rule with equal values of these fields, within the window, make one message.
    group_by: tuple[str, ...] = ()
    group_window_secs: float = Field(default=0.0, ge=0)
    throttle: ThrottleConfig | None = None
    escalation: tuple[EscalationStep, ...] = ()
    quiet_hours_apply: bool = True

    @model_validator(mode="after")
    def _escalation_order(self) -> RouteConfig:
        steps = [s.after_mins for s in self.escalation]
        if steps != sorted(set(steps)):
            raise ValueError("escalation after_mins must be strictly increasing")
        return self


class QuietHoursConfig(Strict):
    """Inside the window, messages below `hold_below` are held and sent as one summary after it."""

    window: TimeWindow
    hold_below: Severity = Severity.HIGH


class DailyDigestConfig(Strict):
    agency: str
    channels: tuple[str, ...] = Field(min_length=1)
    at_local_time: str = Field(default="07:30", pattern=_HHMM)


class RetryConfig(Strict):
    max_attempts: int = Field(default=8, ge=1)
    backoff_initial_secs: float = Field(default=10.0, gt=0)
    backoff_max_secs: float = Field(default=1800.0, gt=0)
    # A row left in `sending` longer than this was interrupted (crash) and is sent again.
    sending_lease_secs: float = Field(default=120.0, gt=0)


class NotifyConfig(Strict):
    timezone: str = "Asia/Ho_Chi_Minh"
    database_file: str = "notify/outbox.sqlite3"  # relative to the process data_dir
    channels: dict[str, ChannelConfig] = {}
    routes: tuple[RouteConfig, ...] = (RouteConfig(name="catch-all"),)
    rotations: dict[str, RotationConfig] = {}
    quiet_hours: QuietHoursConfig | None = None
    daily_digests: tuple[DailyDigestConfig, ...] = ()
    retry: RetryConfig = RetryConfig()
    agency_names: dict[str, str] = {}
    console_url: str | None = None  # links "<console_url>/alerts/<id>"
    ack_url_template: str | None = None  # e.g. https://soc.example/api/v1/notify/ack?token={token}
    ack_link_ttl_hours: float = Field(default=72.0, gt=0)
    ack_secret_env: str | None = None
    ack_secret_file: str | None = None
    channel_failing_after_failures: int = Field(default=3, ge=1)
    internal_alert_agency: str = "soc"  # agency of the alerts the notifier raises about itself
    send_concurrency: int = Field(default=4, ge=1)
    retention_days: int = Field(default=30, ge=1)
    # Agency-owned routes (managed through the API, docs/agencies.md): the channels each agency's
    # routes may name (the SOC sets the channels up, with their secrets; the agency picks among its own).
    agency_channels: dict[str, tuple[str, ...]] = {}

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _references(self) -> NotifyConfig:
        def check(where: str, channels: tuple[str, ...], rotation: str | None) -> None:
            for name in channels:
                if name not in self.channels:
                    raise ValueError(f"{where} names unknown channel {name!r}")
            if rotation is not None and rotation not in self.rotations:
                raise ValueError(f"{where} names unknown rotation {rotation!r}")

        names = [r.name for r in self.routes]
        if len(names) != len(set(names)):
            raise ValueError("route names must be unique")
        if not self.routes or not self.routes[-1].match.is_catch_all():
            raise ValueError(
                "the last route must be a catch-all (no match conditions); "
                "give it no channels to drop the rest on purpose"
            )
        for route in self.routes:
            check(f"route {route.name!r}", route.channels, route.rotation)
            for i, step in enumerate(route.escalation, 1):
                check(f"route {route.name!r} escalation step {i}", step.channels, step.rotation)
        for rname, rotation in self.rotations.items():
            for member in rotation.members:
                check(f"rotation {rname!r} member {member.name!r}", member.channels, None)
        for digest in self.daily_digests:
            check(f"daily digest for {digest.agency!r}", digest.channels, None)
        for agency, channels in self.agency_channels.items():
            check(f"agency_channels of {agency!r}", channels, None)
        if self.ack_url_template is not None:
            if "{token}" not in self.ack_url_template:
                raise ValueError("ack_url_template must contain {token}")
            if self.ack_secret_env is None and self.ack_secret_file is None:
                raise ValueError("ack_url_template needs ack_secret_env or ack_secret_file")
        if self.ack_secret_env is not None and self.ack_secret_file is not None:
            raise ValueError("give at most one of ack_secret_env, ack_secret_file")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class AgencyRoute(Strict):
    """A route an agency owns (API-managed, read live by the notifier): its alerts of at least
    `min_severity` also go to `channels`. It adds to the SOC's routes, never replaces them."""

    agency: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    min_severity: Severity | None = None
    channels: tuple[str, ...] = Field(min_length=1, max_length=10)
    enabled: bool = True
    updated_by: str | None = None
    updated_at: str | None = None

    @property
    def key(self) -> str:
        return f"{self.agency}/{self.name}"

    def as_route(self) -> RouteConfig:
        """The notifier's route: matches this agency's alerts only, and lets matching go on to the
        SOC's own routes (`continue_matching`)."""
        return RouteConfig(
            name=f"agency.{self.agency}.{self.name}",
            match=RouteMatch(min_severity=self.min_severity, agencies=(self.agency,)),
            channels=self.channels,
            continue_matching=True,
        )
