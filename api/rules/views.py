from __future__ import annotations

from typing import Any

from canhgac.api.deps import Reader, State, Tuner
from canhgac.api.rules import service
from canhgac.api.rules.models import RuleList, RuleTest, RuleText, TestResult, Validation
from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/rules", tags=["rules"])


@router.get("", response_model=RuleList)
async def list_rules(principal: Reader, state: State) -> dict[str, Any]:
    """Every rule the detector loads (with its author), and the files it rejected with reasons."""
    result: dict[str, Any] = await service.run_in_thread(service.list_rules, state.settings)
    return result


@router.post("/validate", response_model=Validation)
async def validate(body: RuleText, principal: Tuner, state: State) -> dict[str, Any]:
    """Check pasted Sigma YAML: each rule compiles, or is rejected with a reason."""
    result: dict[str, Any] = await service.run_in_thread(service.validate, state.settings, body.yaml)
    return result


@router.post("/test", response_model=TestResult)
async def test(body: RuleTest, principal: Tuner, state: State) -> dict[str, Any]:
    """Run pasted Sigma rules over pasted events (ECS JSON): which rule matched which event."""
    result: dict[str, Any] = await service.run_in_thread(
        service.test_rules, state.settings, body.yaml, body.events
    )
    return result
