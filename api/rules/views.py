from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from canhgac.api.audit.service import audit
from canhgac.api.auth.models import Principal
from canhgac.api.deps import Reader, RuleManager, State, Tuner
from canhgac.api.events.service import default_window
from canhgac.api.lists.service import refresh_process_lists
from canhgac.api.query_guard import histogram_interval
from canhgac.api.retro.service import enqueue_rule
from canhgac.api.retro.views import audit_started
from canhgac.api.rules import backtest as backtests
from canhgac.api.rules import service
from canhgac.api.rules.models import (
    Backtest,
    BacktestResult,
    Rule,
    RuleDetail,
    RuleList,
    RuleState,
    RuleStats,
    RuleTest,
    RuleText,
    RuleUpload,
    TestResult,
    Validation,
)
from canhgac.core.errors import InvalidRequest
from fastapi import APIRouter, Path, Query, Request, Response

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
    # A new or changed rule is run over the stored events (api/retro), this version of it.
    job = await enqueue_rule(
        state.opensearch,
        state.settings,
        item["id"],
        yaml_text=body.yaml,
        trigger="rule.upload" if created else "rule.replace",
        by=principal.username,
    )
    await audit_started(request, principal, [job] if job else [])
    return item


@router.post("/validate", response_model=Validation, response_model_exclude_unset=True)
async def validate(body: RuleText, principal: Tuner, state: State) -> dict[str, Any]:
    """Check pasted Sigma YAML: each rule compiles, or is rejected with a reason."""
    result: dict[str, Any] = await service.run_in_thread(service.validate, state.settings, body.yaml)
    return result


@router.post("/test", response_model=TestResult, response_model_exclude_unset=True)
async def test(body: RuleTest, principal: Tuner, state: State) -> dict[str, Any]:
    """Run pasted Sigma rules over pasted events (ECS JSON): which rule matched which event; a
    rule naming a watch list (`%list:<name>%`) reads the list as stored now."""
    await refresh_process_lists(state.opensearch, state.settings.opensearch)
    result: dict[str, Any] = await service.run_in_thread(service.test_rules, state.settings, body.yaml, body.events)
    return result


@router.post("/backtest", response_model=BacktestResult)
async def backtest(body: Backtest, principal: Reader, state: State) -> dict[str, Any]:
    """Run a rule (pasted YAML or a library rule's id), converted to OpenSearch queries, over the
    stored events of [start, end]: how many would have matched, and the first `size` of them.
    An agency viewer's backtest sees only its agency's events."""
    return await backtests.backtest(state.opensearch, state.settings, body, principal.agency_scope)


@router.get("/{rule_id}", response_model=RuleDetail, response_model_exclude_unset=True)
async def get_rule(rule_id: RuleId, principal: Reader, state: State) -> dict[str, Any]:
    """One rule of the library with its YAML (the rules page shows it, and tests it on pasted events)."""
    docs = await service.rule_docs(state.opensearch, state.settings.opensearch.rules_index)
    result: dict[str, Any] = await service.run_in_thread(service.rule_detail, state.settings, docs, rule_id)
    return result


@router.get("/{rule_id}/stats", response_model=RuleStats)
async def rule_stats(
    rule_id: RuleId,
    principal: Reader,
    state: State,
    start: datetime | None = None,
    end: datetime | None = None,
    interval_secs: Annotated[int | None, Query(ge=60, le=366 * 86400)] = None,
) -> dict[str, Any]:
    """The rule's alerts per time bucket (default: the last 30 days), and how many of them analysts
    closed, and closed as false positives. An agency viewer counts its agency's alerts only."""
    try:
        start, end = default_window(start, end, hours=24 * 30)
    except OverflowError as exc:  # an end within 30 days of year 1
        raise InvalidRequest("start or end is out of range") from exc
    interval = histogram_interval(start, end, state.settings.api.max_buckets, interval_secs)
    return await service.rule_stats(
        state.opensearch, state.settings.opensearch.alerts_index, rule_id, principal.agency_scope, start, end, interval
    )


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
