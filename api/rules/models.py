from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_RULE_CHARS = 200_000


class RuleList(BaseModel):
    items: list[dict[str, Any]]
    rejected: list[dict[str, Any]]


class RuleText(BaseModel):
    model_config = ConfigDict(extra="forbid")

    yaml: str = Field(min_length=1, max_length=MAX_RULE_CHARS, description="one or more Sigma rules (YAML)")


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
