"""Coverage by security level: what each system's required log categories look like now."""

from __future__ import annotations

from typing import Annotated, Any

from canhgac.api.compliance import service
from canhgac.api.compliance.models import CoverageList, PolicyView, SystemCoverage
from canhgac.api.deps import Reader, State
from canhgac.core.compliance import CLASSIFICATION
from canhgac.core.errors import NotFound
from fastapi import APIRouter, Path

router = APIRouter(prefix="/api/v1/compliance", tags=["compliance"])
SystemId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")]
_policies: dict[str | None, service.PolicyFile] = {}


def _policy(path: str | None) -> service.PolicyFile:
    if path not in _policies:
        _policies[path] = service.PolicyFile(path)
    return _policies[path]


@router.get("/coverage", response_model=CoverageList)
async def list_coverage(principal: Reader, state: State) -> dict[str, Any]:
    """Coverage of every system the caller may see (agency users: their agency's), as of the last
    round (`updated_at`)."""
    items = await service.list_coverage(state.opensearch, state.settings.opensearch, principal.agency_scope)
    return {"items": items}


@router.get("/coverage/{system_id}", response_model=SystemCoverage)
async def system_coverage(system_id: SystemId, principal: Reader, state: State) -> dict[str, Any]:
    """One system's coverage (404 for another agency's, or before its first round)."""
    items = await service.list_coverage(
        state.opensearch, state.settings.opensearch, principal.agency_scope, system_id=system_id
    )
    if not items:
        raise NotFound(f"no coverage for system {system_id!r}")
    return items[0]


@router.get("/policy", response_model=PolicyView)
async def policy(principal: Reader, state: State) -> dict[str, Any]:
    """The policy table in force and how events are classified (docs/agencies.md)."""
    current = _policy(state.settings.compliance.policy_file).current()
    return {
        "levels": [
            {
                "level": level,
                "requires": [c.value for c in current.required(level)],
                "missing_after_secs": current.missing_after(level),
                "note": current.levels[level].note,
            }
            for level in sorted(current.levels)
        ],
        "categories": [
            {"category": c.value, "conditions": [{f: list(v) for f, v in cond.items()} for cond in conds]}
            for c, conds in CLASSIFICATION.items()
        ],
    }
