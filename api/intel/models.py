"""Indicators and feeds as the API takes and returns them (matching: canhgac.rules.intel)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from canhgac.core.alert import Severity
from canhgac.rules.intel.indicators import AGENCY_CODE, MAX_VALUE_CHARS, IndicatorType
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone (Z or +07:00)")
    return value


AwareTime = Annotated[datetime, AfterValidator(_aware)]
Agency = Annotated[
    str | None,
    Field(default=None, pattern=AGENCY_CODE.pattern, description="the agency it applies to; null: every agency (SOC)"),
]
FEED_ID = r"^[a-z0-9][a-z0-9_-]{0,62}$"
Confidence = Annotated[int, Field(ge=0, le=100)]
Tags = Annotated[list[Annotated[str, Field(min_length=1, max_length=128)]], Field(max_length=50)]


class IndicatorCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: IndicatorType
    value: str = Field(min_length=1, max_length=MAX_VALUE_CHARS, description="normalised when stored")
    agency: Agency = None
    feed: str = Field(default="manual", pattern=FEED_ID)
    confidence: Confidence = 50
    severity: Severity = Severity.HIGH
    tags: Tags = Field(default=[], description="free tags and ATT&CK ids (attack.t1071)")
    expires_at: AwareTime | None = Field(default=None, description="stops matching after this time")
    reason: str = Field(min_length=1, max_length=2000, description="why it is an indicator (bulletin, case …)")


class IndicatorOut(BaseModel):
    id: str
    type: IndicatorType
    value: str
    feed: str
    agency: str | None = None
    confidence: int | None = None
    severity: Severity
    tags: list[str] = []
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    expires_at: datetime | None = None
    reason: str | None = None
    reference: str | None = Field(default=None, description="the feed's own id (STIX id, MISP attribute uuid)")
    created_by: str | None = None
    updated_at: datetime | None = None
    active: bool = Field(description="false once expired")


class IndicatorList(BaseModel):
    total: int
    items: list[IndicatorOut]


class ExpireRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=2000)


class ImportFormat(StrEnum):
    CSV = "csv"
    PLAIN = "plain"
    STIX = "stix"
    MISP = "misp"  # one MISP event document ({"Event": …})


class ImportRequest(BaseModel):
    """A file's text: CSV (header with at least `value`), a plain list, a STIX 2.1 bundle or a MISP
    event. Rows without their own confidence/severity/expiry take these."""

    model_config = ConfigDict(extra="forbid")

    format: ImportFormat
    content: str = Field(min_length=1, max_length=20_000_000)
    feed: str = Field(pattern=FEED_ID, description="what the import is called (one feed per bulletin or list)")
    agency: Agency = None
    type: IndicatorType | None = Field(default=None, description="plain lists: every line's type (else guessed)")
    confidence: Confidence = 50
    severity: Severity = Severity.HIGH
    expires_days: int | None = Field(default=90, ge=1, le=3650, description="null: never expire")
    reason: str | None = Field(default=None, max_length=2000)


class ImportResult(BaseModel):
    feed: str
    stored: int
    skipped: dict[str, int] = Field(description="what was not an indicator, by reason")
    hunts: list[str] = Field(default=[], description="retro-hunt jobs started for the stored indicators")


class FeedKind(StrEnum):
    TAXII = "taxii"  # a TAXII 2.1 collection, polled
    MISP = "misp"  # a MISP feed (manifest.json + <event uuid>.json), polled
    MISP_REST = "misp_rest"  # a MISP instance's REST API (POST /attributes/restSearch), polled


class FeedCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=FEED_ID)
    kind: FeedKind
    url: str = Field(
        min_length=8,
        max_length=2000,
        # http(s), then printable characters only: a control character is refused here (422), not
        # stored to fail every poll.
        pattern=r"^https?://[\x21-\x7e]+$",
        description=(
            "TAXII: the API root (https://host/api1/); MISP: the feed's folder (…/manifest.json beside it);"
            " MISP REST: the instance's base URL (https://misp.example/)"
        ),
    )
    collection: str | None = Field(default=None, max_length=200, description="TAXII collection id")
    username: str | None = Field(default=None, max_length=200)
    password: SecretStr | None = Field(default=None, description="stored in the config index; never returned")
    headers: dict[str, SecretStr] = Field(default={}, description="extra request headers (a MISP key); never returned")
    verify_tls: bool = True
    agency: Agency = None
    interval_secs: int = Field(default=3600, ge=1, le=7 * 86400, description="how often it is polled")
    stale_after_secs: int | None = Field(
        default=None, ge=1, description="stale without success this long; default 3 × interval"
    )
    confidence: Confidence = 50
    severity: Severity = Severity.HIGH
    expires_days: int | None = Field(default=90, ge=1, le=3650, description="expiry of what it gives without its own")
    enabled: bool = True


class FeedUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    interval_secs: int | None = Field(default=None, ge=1, le=7 * 86400)
    stale_after_secs: int | None = Field(default=None, ge=1)
    confidence: Confidence | None = None
    severity: Severity | None = None


class FeedOut(BaseModel):
    id: str
    kind: FeedKind
    url: str
    collection: str | None = None
    agency: str | None = None
    interval_secs: int
    stale_after_secs: int
    confidence: int
    severity: Severity
    expires_days: int | None = None
    enabled: bool
    created_by: str | None = None
    created_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_count: int = Field(default=0, description="indicators stored by the last successful poll")
    indicator_count: int = Field(default=0, description="indicators of this feed in the store now")
    stale: bool = Field(description="enabled and no successful poll within stale_after_secs")


class FeedList(BaseModel):
    items: list[FeedOut]


class PollResult(BaseModel):
    feed: str
    stored: int
    skipped: dict[str, int]
    status: Literal["ok", "failed"]
    error: str | None = None
    hunts: list[str] = Field(default=[], description="retro-hunt jobs started for the stored indicators")
