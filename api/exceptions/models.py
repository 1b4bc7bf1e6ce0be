"""Rule exceptions as the API takes and returns them (the matching itself: canhgac.rules.exceptions)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

from canhgac.api.query_guard import FIELD_NAME
from canhgac.rules.exceptions import MAX_CONDITIONS, Condition, Op
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

# An agency's request waits for a SOC analyst; only an approved exception reaches the detector.
# Exceptions written before requests existed have no state and count as approved.
ExceptionState = Literal["requested", "approved", "rejected"]
EXCEPTION_STATES: tuple[str, ...] = get_args(ExceptionState)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone (Z or +07:00)")
    return value


AwareTime = Annotated[datetime, AfterValidator(_aware)]


class ConditionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(min_length=1, max_length=128, pattern=FIELD_NAME.pattern, description="ECS field, dotted")
    op: Op
    value: str | list[str] = Field(description="text; a list for `in`; a network (10.0.0.0/8) for `cidr`")

    @model_validator(mode="after")
    def check(self) -> ConditionIn:
        Condition.parse(self.model_dump())  # its ValueError becomes a 422 naming the condition
        return self


class ExceptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule_id: str = Field(min_length=1, max_length=256)
    conditions: list[ConditionIn] = Field(min_length=1, max_length=MAX_CONDITIONS, description="all must hold")
    reason: str = Field(min_length=1, max_length=2000)
    expires_at: AwareTime | None = Field(default=None, description="stops applying after this time")


class ExceptionUpdate(BaseModel):
    """Fields left out stay as they are; `expires_at: null` removes the expiry."""

    model_config = ConfigDict(extra="forbid")

    conditions: list[ConditionIn] | None = Field(default=None, min_length=1, max_length=MAX_CONDITIONS)
    reason: str | None = Field(default=None, min_length=1, max_length=2000)
    expires_at: AwareTime | None = None


class ConditionOut(BaseModel):
    field: str
    op: Op
    value: str | list[str]


class RuleExceptionOut(BaseModel):
    id: str
    rule_id: str
    conditions: list[ConditionOut] = Field(description="all must hold")
    reason: str
    author: str
    created_at: datetime
    updated_at: datetime
    updated_by: str
    expires_at: datetime | None = None
    active: bool = Field(description="approved and not expired: the detector applies it")
    state: ExceptionState = "approved"
    agency: str | None = Field(default=None, description="the agency that requested it (its events only)")
    requested_by: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_comment: str | None = None


class ExceptionList(BaseModel):
    items: list[RuleExceptionOut]


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(default=None, max_length=2000, description="why; shown to the agency")
