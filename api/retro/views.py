"""Retro-hunt jobs: list, status with progress, start by hand, cancel. Jobs start by themselves
when indicators arrive (add, import, feed poll) or a rule is uploaded; starting and cancelling
through the API are audited (`retro_hunt.start`, `retro_hunt.cancel`)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from pathlib import Path as FilePath
from typing import Annotated, Any

from canhgac.api.audit.service import audit
from canhgac.api.auth.models import Principal
from canhgac.api.deps import State, Tuner, TuningReader
from canhgac.api.lists.service import stored_lists
from canhgac.api.retro import service
from canhgac.api.retro.models import HuntRequest, JobList, JobOut, JobsStarted
from canhgac.api.rules.backtest import convert_path, convert_text
from canhgac.api.rules.service import file_rule_ids, rule_docs
from canhgac.core.errors import NotFound, RuleRejected
from fastapi import APIRouter, Path, Query, Request

router = APIRouter(prefix="/api/v1/retro-hunts", tags=["retro-hunts"])
JobId = Annotated[str, Path(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_-]+$")]


async def audit_started(request: Request, principal: Principal | str, jobs: list[dict[str, Any]]) -> None:
    """One audit record per job started by a request (routes that queue hunts call this)."""
    for job in jobs:
        await audit(
            request,
            actor=principal,
            action="retro_hunt.start",
            target_type="retro_hunt",
            target_id=str(job["id"]),
            details={
                "kind": job["kind"],
                "trigger": job["trigger"],
                "indicator_count": job.get("indicator_count", 0),
                "rule_id": job.get("rule_id"),
                "lookback_days": job["lookback_days"],
            },
        )


@router.get("", response_model=JobList)
async def list_jobs(
    principal: TuningReader, state: State, size: Annotated[int, Query(ge=1, le=service.MAX_LISTED)] = 50
) -> dict[str, Any]:
    """Newest first."""
    return {"items": await service.list_jobs(state.opensearch, state.settings.opensearch, size)}


@router.post("", response_model=JobsStarted, status_code=202)
async def start(body: HuntRequest, principal: Tuner, request: Request, state: State) -> dict[str, Any]:
    """Hunt for indicators (by id) or a rule now. Run again, a hunt raises no alert twice."""
    client, settings = state.opensearch, state.settings
    if body.rule_id:
        uploaded = {d["id"]: d for d in await rule_docs(client, settings.opensearch.rules_index)}
        files = file_rule_ids(settings)
        text = uploaded.get(body.rule_id, {}).get("yaml")
        if not text and body.rule_id not in files:
            raise NotFound(f"no rule {body.rule_id}")
        # Refused now (400, saying why) rather than queued to fail: a rule that does not convert to
        # a query, such as one naming an address list on a text field (rules/convert_lists.py).
        # The job converts it again when it runs, with the lists as they are then.
        lists = await stored_lists(client, settings.opensearch)
        if text:
            converted, rejected = await asyncio.to_thread(convert_text, settings, text, body.rule_id, "<pasted>", lists)
        else:
            converted, rejected = await asyncio.to_thread(
                convert_path, settings, FilePath(files[body.rule_id]), body.rule_id, lists
            )
        if not converted:
            raise RuleRejected(
                "the rule cannot be converted to an OpenSearch query, so it cannot be retro-hunted",
                rejections=[asdict(r) for r in rejected],
            )
        job = await service.enqueue_rule(
            client,
            settings,
            body.rule_id,
            yaml_text=None,
            trigger="manual",
            by=principal.username,
            lookback_days=body.lookback_days,
        )
        jobs = [job] if job else []
    else:
        jobs = await service.enqueue_indicators(
            client,
            settings,
            list(body.indicator_ids or []),
            trigger="manual",
            by=principal.username,
            lookback_days=body.lookback_days,
        )
    await audit_started(request, principal, jobs)
    return {"items": [service.public(j) for j in jobs]}


@router.get("/{job_id}", response_model=JobOut)
async def get_job(job_id: JobId, principal: TuningReader, state: State) -> dict[str, Any]:
    return service.public(await service.get_job(state.opensearch, state.settings.opensearch, job_id))


@router.post("/{job_id}/cancel", response_model=JobOut)
async def cancel(job_id: JobId, principal: Tuner, request: Request, state: State) -> dict[str, Any]:
    """A queued job is cancelled now, a running one after its current page (409 once finished)."""
    doc = await service.cancel_job(state.opensearch, state.settings.opensearch, job_id, principal.username)
    await audit(
        request,
        actor=principal,
        action="retro_hunt.cancel",
        target_type="retro_hunt",
        target_id=job_id,
        details={"state": doc["state"], "progress": doc.get("progress")},
    )
    return service.public(doc)
