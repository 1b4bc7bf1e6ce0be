"""Rules: the detector's rule library, Sigma validation and rule tests on pasted events, uploads,
enable/disable and backtests over stored events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_RULE_CHARS = 200_000


class RuleList(BaseModel):
    items: list[dict[str, Any]]
    rejected: list[dict[str, Any]]


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
    rules: list[dict[str, Any]]
    rejected: list[dict[str, Any]]


class TestResult(BaseModel):
    rules: list[dict[str, Any]]
    rejected: list[dict[str, Any]]
    results: list[dict[str, Any]]


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


class BacktestResult(BaseModel):
    rule: dict[str, Any]
    queries: list[str]
    start: datetime
    end: datetime
    total: int
    timed_out: bool
    items: list[dict[str, Any]]
