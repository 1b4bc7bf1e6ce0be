"""Rules: the detector's rule library, Sigma validation and rule tests on pasted events, uploads,
enable/disable and backtests over stored events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from canhgac.api.events.models import Event
from canhgac.rules.ruleset import Kind, Origin
from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_RULE_CHARS = 200_000


class RuleInfo(BaseModel):
    """What a compiled rule says about itself. A correlation rule carries only id, title, level and
    author; the other fields are left out of the answer (not null) when the rule has none."""

    id: str
    title: str
    level: str | None = None
    status: str | None = None
    author: str | None = None
    tags: list[str] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)
    description: str | None = None
    falsepositives: list[str] = Field(default_factory=list)
    logsource: dict[str, str | None] = Field(default_factory=dict, description="product, category, service")
    path: str | None = None
    name: str | None = None
    kind: Kind | None = None


class Rule(RuleInfo):
    """A rule of the library: where it comes from and whether the detector runs it."""

    kind: Kind
    path: str
    source: Origin = Field(description="bundled pack, a rule file, or uploaded through the API")
    enabled: bool


class LibraryRule(Rule):
    hits: int = Field(description="alerts this rule raised (an agency viewer: its agency's only)")


class Rejected(BaseModel):
    """A rule that did not load, and why."""

    path: str
    rule_id: str | None = None
    title: str | None = None
    reason: str = Field(description="short, machine-friendly: the tally key")
    message: str


class RuleList(BaseModel):
    items: list[LibraryRule]
    rejected: list[Rejected]


class RuleText(BaseModel):
    model_config = ConfigDict(extra="forbid")

    yaml: str = Field(min_length=1, max_length=MAX_RULE_CHARS, description="one or more Sigma rules (YAML)")


class RuleUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    yaml: str = Field(
        min_length=1, max_length=MAX_RULE_CHARS, description="one Sigma rule (detection or correlation) with an id"
    )


class RuleTest(RuleText):
    events: list[dict[str, Any]] = Field(min_length=1, max_length=500, description="ECS events")


class Validation(BaseModel):
    valid: bool
    rules: list[RuleInfo]
    rejected: list[Rejected]


class EventResult(BaseModel):
    index: int = Field(description="position of the event in the request")
    matched: list[str] = Field(description="ids of the rules that matched it")


class TestResult(BaseModel):
    rules: list[RuleInfo]
    rejected: list[Rejected]
    results: list[EventResult]


class RuleState(BaseModel):
    id: str
    enabled: bool
    source: str


class Backtest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    yaml: str | None = Field(default=None, min_length=1, max_length=MAX_RULE_CHARS)
    rule_id: str | None = Field(default=None, min_length=1, max_length=256)
    start: datetime
    end: datetime
    size: int = Field(default=20, ge=0, le=500, description="how many of the first matching events to return")

    @model_validator(mode="after")
    def one_rule(self) -> Backtest:
        if (self.yaml is None) == (self.rule_id is None):
            raise ValueError("give either `yaml` or `rule_id`")
        return self


class RuleRef(BaseModel):
    id: str
    title: str


class BacktestResult(BaseModel):
    rule: RuleRef
    queries: list[str] = Field(description="the OpenSearch query strings the rule converted to")
    start: datetime
    end: datetime
    total: int
    timed_out: bool
    items: list[Event] = Field(description="the first matching events, oldest first")
    correlations: list[dict[str, Any]] = Field(
        default=[],
        description="a correlation rule's backtest: the alerts its windows raise over the base rules' matches",
    )
    truncated: bool = Field(default=False, description="a base rule had more matches than a backtest reads")


class RuleDetail(Rule):
    yaml: str = Field(description="an uploaded rule's YAML, or the whole file holding a file rule")


class StatsBucket(BaseModel):
    start: str = Field(description="the bucket's start (UTC)")
    alerts: int = Field(description="alerts first seen in the bucket")
    closed: int = Field(description="of those, closed by an analyst")
    false_positive: int = Field(description="of those, closed as false positives")


class RuleStats(BaseModel):
    """Hits and analysts' resolutions over time: the false-positive rate of a bucket is
    `false_positive / closed` (undefined where nothing was closed)."""

    rule_id: str
    start: datetime
    end: datetime
    interval_secs: int
    alerts: int
    closed: int
    false_positive: int
    buckets: list[StatsBucket]
