"""The alert contract: what an alert is on the topic `canhgac.alerts.v1`, in the `canhgac-alerts`
index, in the API and in the console.

- The vocabulary, defined once: `Severity` (with its score), `Status` and the allowed
  `TRANSITIONS`, `Resolution`. The API serves it at `GET /api/v1/meta`; the console reads it there.
- `Alert`, the typed document, and `build_alert`, the one constructor every alert goes through:
  the rule grouper and correlations (pipeline/alerts.py), source health's "source silent" alerts
  and the notifier's own alerts.
- Tenancy is part of identity: `alert_id` takes the agency, so the same attack in two agencies
  gives two alerts. An alert belongs to the agency whose events raised it, except the alerts of a
  correlation rule that spans agencies (`canhgac: {cross_agency: true}`, docs/correlation.md):
  those belong to the SOC (`agency` is `SOC_AGENCY`) and list the agencies involved in `agencies`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Any, Final, Protocol

from canhgac.core.event import get_path
from canhgac.core.ids import derived_id
from pydantic import AliasChoices, BaseModel, ConfigDict, Field


class Severity(StrEnum):
    """Sigma's rule levels, lowest first."""

    INFORMATIONAL = "informational"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


# What the alerts index sorts on (`severity_score`); the gaps leave room for adjustments such as
# a system's security level without reordering the levels.
SEVERITY_SCORES: Final[Mapping[Severity, int]] = MappingProxyType(
    {
        Severity.INFORMATIONAL: 10,
        Severity.LOW: 21,
        Severity.MEDIUM: 47,
        Severity.HIGH: 73,
        Severity.CRITICAL: 99,
    }
)
DEFAULT_SEVERITY: Final = Severity.MEDIUM
_SEVERITY_ORDER: Final = tuple(Severity)


def severity_of(level: object) -> Severity:
    """A rule's level as a severity; a missing or unknown level is medium: an alert we cannot place
    is neither dropped nor paged."""
    if isinstance(level, str):
        try:
            return Severity(level.lower())
        except ValueError:
            pass
    return DEFAULT_SEVERITY


def severity_rank(severity: str) -> int:
    """0 for informational up to 4 for critical; unknown severities rank as medium."""
    return _SEVERITY_ORDER.index(severity_of(severity))


class Status(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


# Forward through the workflow; a closed alert can be reopened (to acknowledged).
TRANSITIONS: Final[Mapping[Status, frozenset[Status]]] = MappingProxyType(
    {
        Status.NEW: frozenset({Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.CLOSED}),
        Status.ACKNOWLEDGED: frozenset({Status.IN_PROGRESS, Status.CLOSED}),
        Status.IN_PROGRESS: frozenset({Status.CLOSED, Status.ACKNOWLEDGED}),
        Status.CLOSED: frozenset({Status.ACKNOWLEDGED}),
    }
)


def can_transition(current: str, to: str) -> bool:
    try:
        return Status(to) in TRANSITIONS[Status(current)]
    except ValueError:
        return False


class Resolution(StrEnum):
    """Why an alert was closed (required when closing)."""

    TRUE_POSITIVE = "true_positive"
    FALSE_POSITIVE = "false_positive"
    BENIGN = "benign"


# The owner of alerts that belong to no single agency: cross-agency correlations and, by default
# (`notify.internal_alert_agency`), the notifier's own alerts. Do not give an agency this code.
SOC_AGENCY: Final = "soc"

IsoTime = Annotated[str, Field(description="ISO 8601, UTC, milliseconds", json_schema_extra={"format": "date-time"})]


def iso(ts: datetime) -> str:
    """The alert contract's time format: UTC, milliseconds, `Z`."""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def alert_id(rule_id: str, agency: str | None, group: Mapping[str, Any], window: str) -> str:
    """Rule id + agency + group key + window: stable across replays, different per agency."""
    return derived_id(rule_id, f"agency={agency or ''}", *(f"{k}={v}" for k, v in sorted(group.items())), window)


class RuleLike(Protocol):
    """What an alert needs from the rule that raised it (rules.model.RuleMeta fits)."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def level(self) -> str | None: ...
    @property
    def author(self) -> str | None: ...
    @property
    def tags(self) -> Iterable[str]: ...
    @property
    def references(self) -> Iterable[str]: ...
    @property
    def description(self) -> str | None: ...


class _Part(BaseModel):
    # Documents written by older versions may carry more fields: kept, never refused.
    model_config = ConfigDict(extra="allow")


class AlertRule(_Part):
    """The rule shown with every alert; its author too (the SigmaHQ rules' licence asks for it)."""

    id: str
    title: str
    level: str | None = None
    author: str | None = None
    tags: list[str] = []
    references: list[str] = []
    description: str | None = None

    @classmethod
    def of(cls, rule: RuleLike) -> AlertRule:
        return cls(
            id=rule.id,
            title=rule.title,
            level=rule.level or DEFAULT_SEVERITY,
            author=rule.author,
            tags=list(rule.tags or ()),
            references=list(rule.references or ()),
            description=rule.description,
        )


class AlertOrigin(_Part):
    """The `canhgac` block: where the alert's events came from and what they were grouped by."""

    source_id: str | None = None
    dataset: str | None = None
    group: dict[str, Any] = {}


class HostRef(_Part):
    name: str | None = None


class UserRef(_Part):
    name: str | None = None


class SourceRef(_Part):
    ip: str | None = None


class Comment(_Part):
    at: IsoTime
    by: str
    text: str


class HistoryEntry(_Part):
    """One change: `created`, `status` (from, to, resolution), `assign` (from, to), `comment`."""

    at: IsoTime
    by: str
    action: str


class CorrelationInfo(_Part):
    type: str
    group: dict[str, Any] = {}
    window_start: str | None = None
    window_end: str | None = None
    cross_agency: bool = False
    late: bool = False  # raised on the late path (events beyond the allowed lateness)
    value: float | None = None  # metric types (value_sum …): the aggregate the condition compared


class IndicatorInfo(_Part):
    """A threat-intel alert's indicator (canhgac.rules.intel): what it is, where it came from, how
    sure the feed is, and where the event carried it (`field`, `observed`)."""

    id: str
    type: str
    value: str
    feed: str
    agency: str | None = Field(default=None, description="the tenant the indicator belongs to; None: SOC-wide")
    confidence: int | None = None
    severity: str | None = None
    tags: list[str] = []
    reason: str | None = None
    field: str | None = None
    observed: str | None = None


class RetroInfo(_Part):
    """A retro-hunt's alert (api/retro): raised over stored events when an indicator arrived or a rule
    was added or changed, not on the stream. `arrived_at`: when the indicator arrived (or the rule
    was uploaded); `job`: the hunt that raised it."""

    kind: str = Field(description="indicator or rule")
    job: str
    arrived_at: IsoTime | None = None
    feed: str | None = Field(default=None, description="indicator hunts: the indicator's feed")


class MatchedCondition(BaseModel):
    """One field the rule fired on and the condition that held on it, as the rule words it."""

    field: str
    condition: str


class Alert(BaseModel):
    """One alert document. Every field is written by `build_alert`; the defaults only let documents
    written by older versions (and the API's summaries, which leave the snapshot, comments and
    history out) be read."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str
    timestamp: IsoTime = Field(
        validation_alias=AliasChoices("@timestamp", "timestamp"), serialization_alias="@timestamp"
    )
    rule: AlertRule
    severity: Severity = DEFAULT_SEVERITY
    severity_score: int = SEVERITY_SCORES[DEFAULT_SEVERITY]
    first_seen: IsoTime
    last_seen: IsoTime
    count: int = 1
    event_ids: list[str] = []
    event: dict[str, Any] | None = Field(default=None, description="snapshot of the first (or completing) event")
    matched_fields: list[str] = Field(
        default=[], description="the snapshot's fields whose rule conditions hold (set by the detector)"
    )
    matched_conditions: list[MatchedCondition] = Field(
        default=[],
        description="each matched field with the rule's condition that held on it, e.g. "
        '`CommandLine|contains: "-enc"` (set by the detector on new alerts; at most 20, each at most 160 characters)',
    )
    agency: str | None = Field(default=None, description=f"owning agency; {SOC_AGENCY!r} for cross-agency alerts")
    agencies: list[str] = Field(default=[], description="agencies whose events are in the alert")
    canhgac: AlertOrigin = Field(default_factory=AlertOrigin)
    host: HostRef = Field(default_factory=HostRef)
    user: UserRef = Field(default_factory=UserRef)
    source: SourceRef = Field(default_factory=SourceRef)
    status: Status = Status.NEW
    resolution: Resolution | None = None
    assignee: str | None = None
    comments: list[Comment] = []
    history: list[HistoryEntry] = []
    created_at: IsoTime | None = None
    updated_at: IsoTime | None = None
    closed_at: IsoTime | None = None
    closed_by: str | None = None
    cleared_at: IsoTime | None = Field(default=None, description="source health: when the source sent again")
    correlation: CorrelationInfo | None = None
    notify: dict[str, Any] | None = Field(default=None, description="the notifier's own alerts: the failing channel")
    indicator: IndicatorInfo | None = Field(default=None, description="threat-intel alerts: the indicator met")
    retro: RetroInfo | None = Field(default=None, description="raised by a retro-hunt over stored events")
    # Set by the alert indexer from the information systems inventory (canhgac.core.systems).
    system: dict[str, Any] | None = Field(default=None, description="the system of the alert's host or source")
    priority: float | None = Field(default=None, description="rule weight × system level × indicator confidence")

    def to_document(self) -> dict[str, Any]:
        """The JSON document (topic value and index source): every field, `@timestamp` by its name.
        The event snapshot is JSON already (a decoded event): it is referenced, not copied."""
        document = self.model_dump(mode="json", by_alias=True, exclude={"event"})
        document["event"] = self.event
        return document


def build_alert(
    *,
    alert_id: str,
    rule: AlertRule,
    agency: str | None,
    created_by: str,
    first_seen: datetime,
    last_seen: datetime,
    count: int,
    event_ids: Sequence[str] = (),
    snapshot: Mapping[str, Any] | None = None,
    group: Mapping[str, Any] | None = None,
    agencies: Sequence[str] | None = None,
    host: str | None = None,
    user: str | None = None,
    source_ip: str | None = None,
    source_id: str | None = None,
    dataset: str | None = None,
    identity_from_snapshot: bool = True,
    correlation: CorrelationInfo | None = None,
    notify: Mapping[str, Any] | None = None,
    indicator: IndicatorInfo | None = None,
    retro: RetroInfo | None = None,
    now: datetime | None = None,
) -> Alert:
    """The one way an alert is made. `snapshot` is the event shown with it; host, user, source
    address, source id and dataset default to the snapshot's unless `identity_from_snapshot` is
    false (a cross-agency alert names only what its agencies share). `agencies` defaults to [agency]."""
    created = iso(now or datetime.now(UTC))
    event = dict(snapshot) if snapshot is not None else None
    seen: Mapping[str, Any] = event if event is not None and identity_from_snapshot else {}
    severity = severity_of(rule.level)
    # One validation of plain data (nested parts included) is pydantic's fast path.
    return Alert.model_validate(
        {
            "id": alert_id,
            "@timestamp": iso(first_seen),
            "rule": rule,
            "severity": severity,
            "severity_score": SEVERITY_SCORES[severity],
            "first_seen": iso(first_seen),
            "last_seen": iso(last_seen),
            "count": count,
            "event_ids": list(event_ids),
            "event": event,
            "agency": agency,
            "agencies": list(agencies) if agencies is not None else ([agency] if agency else []),
            "canhgac": {
                "source_id": source_id or _text(get_path(seen, "canhgac.source_id")),
                "dataset": dataset or _text(get_path(seen, "canhgac.dataset")),
                "group": dict(group or {}),
            },
            "host": {"name": host or _text(_host_of(seen))},
            "user": {"name": user or _text(get_path(seen, "user.name"))},
            "source": {"ip": source_ip or _text(get_path(seen, "source.ip"))},
            "history": [{"at": created, "by": created_by, "action": "created"}],
            "created_at": created,
            "correlation": correlation,
            "notify": dict(notify) if notify is not None else None,
            "indicator": indicator,
            "retro": retro,
        }
    )


def _host_of(event: Mapping[str, Any]) -> Any:
    return get_path(event, "host.name") or get_path(event, "host.hostname")


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) and value != "" else None
