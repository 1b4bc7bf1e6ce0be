from __future__ import annotations

from typing import Annotated, Any

from canhgac.api.audit.service import audit
from canhgac.api.auth.models import Principal
from canhgac.api.deps import Reader, RuleManager, State, Tuner
from canhgac.api.rules import backtest as backtests
from canhgac.api.rules import service
from canhgac.api.rules.models import (
    Backtest,
    BacktestResult,
    Rule,
    RuleList,
    RuleState,
    RuleTest,
    RuleText,
    RuleUpload,
    TestResult,
    Validation,
)
from fastapi import APIRouter, Path, Request, Response

router = APIRouter(prefix="/api/v1/rules", tags=["rules"])
RuleId = Annotated[str, Path(min_length=1, max_length=256, pattern=r"^[^\s/]+$")]


@router.get("", response_model=RuleList, response_model_exclude_unset=True)
async def list_rules(principal: Reader, state: State) -> dict[str, Any]:
    """Every rule (with its author, source bundled/file/uploaded, enabled, and alert count), and the
    rules that were rejected, with reasons."""
    return await service.list_rules(state.opensearch, state.settings, principal.agency_scope)


@router.post(
    "",
    response_model=Rule,
    response_model_exclude_unset=True,
    status_code=201,
    responses={200: {"model": Rule, "description": "a new version of an uploaded rule"}},
)
async def upload_rule(
    body: RuleUpload, principal: RuleManager, request: Request, state: State, response: Response
) -> dict[str, Any]:
    """Add one Sigma rule (or a new version of an uploaded one, same id: 200). It is compiled with
    the detector's loader; a rule that does not compile is refused (400) with the reasons. The
    detector picks it up within `rules.reload_interval_secs`."""
    item, created = await service.upload_rule(state.opensearch, state.settings, body.yaml, principal.username)
    if not created:
        response.status_code = 200
    await audit(
        request,
        actor=principal,
        action="rule.upload" if created else "rule.replace",
        target_type="rule",
        target_id=item["id"],
        details={"title": item.get("title"), "yaml": body.yaml},
    )
    return item


@router.post("/validate", response_model=Validation, response_model_exclude_unset=True)
async def validate(body: RuleText, principal: Tuner, state: State) -> dict[str, Any]:
    """Check pasted Sigma YAML: each rule compiles, or is rejected with a reason."""
    result: dict[str, Any] = await service.run_in_thread(service.validate, state.settings, body.yaml)
    return result


@router.post("/test", response_model=TestResult, response_model_exclude_unset=True)
async def test(body: RuleTest, principal: Tuner, state: State) -> dict[str, Any]:
    """Run pasted Sigma rules over pasted events (ECS JSON): which rule matched which event."""
    result: dict[str, Any] = await service.run_in_thread(service.test_rules, state.settings, body.yaml, body.events)
    return result


@router.post("/backtest", response_model=BacktestResult)
async def backtest(body: Backtest, principal: Reader, state: State) -> dict[str, Any]:
    """Run a rule (pasted YAML or a library rule's id), converted to OpenSearch queries, over the
    stored events of [start, end]: how many would have matched, and the first `size` of them.
    An agency viewer's backtest sees only its agency's events."""
    return await backtests.backtest(state.opensearch, state.settings, body, principal.agency_scope)


async def _set_enabled(
    rule_id: str, enabled: bool, principal: Principal, request: Request, state: State
) -> dict[str, Any]:
    result = await service.set_enabled(state.opensearch, state.settings, rule_id, enabled, principal.username)
    await audit(
        request,
        actor=principal,
        action="rule.enable" if enabled else "rule.disable",
        target_type="rule",
        target_id=rule_id,
        details={"source": result["source"]},
    )
    return result


@router.post("/{rule_id}/enable", response_model=RuleState)
async def enable(rule_id: RuleId, principal: RuleManager, request: Request, state: State) -> dict[str, Any]:
    """The detector evaluates the rule again, within `rules.reload_interval_secs`."""
    return await _set_enabled(rule_id, True, principal, request, state)


@router.post("/{rule_id}/disable", response_model=RuleState)
async def disable(rule_id: RuleId, principal: RuleManager, request: Request, state: State) -> dict[str, Any]:
    """The detector stops evaluating the rule within `rules.reload_interval_secs` (no restart)."""
    return await _set_enabled(rule_id, False, principal, request, state)


@router.delete("/{rule_id}", status_code=204)
async def delete_rule(rule_id: RuleId, principal: RuleManager, request: Request, state: State) -> Response:
    """Remove an uploaded rule (rule files are removed from their folder instead)."""
    doc = await service.delete_uploaded(state.opensearch, state.settings, rule_id)
    await audit(
        request,
        actor=principal,
        action="rule.delete",
        target_type="rule",
        target_id=rule_id,
        details={"title": doc.get("title")},
    )
    return Response(status_code=204)
