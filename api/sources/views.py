from __future__ import annotations

from typing import Annotated, Any

from canhgac.api.audit.service import audit
from canhgac.api.deps import Admin, Reader, State
from canhgac.api.sources import onboarding, service
from canhgac.api.sources.models import (
    IngestKey,
    OnboardingStatus,
    ShipperConfigs,
    ShipperConfigsRequest,
    SourceCreate,
    SourceCreated,
    SourceList,
    SourceOut,
    SourceUpdate,
)
from fastapi import APIRouter, Path, Request, Response

router = APIRouter(prefix="/api/v1/sources", tags=["sources"])
SourceId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")]


@router.get("", response_model=SourceList, response_model_exclude_unset=True)
async def list_sources(principal: Reader, state: State) -> dict[str, Any]:
    """Sources with their health; an agency viewer sees only its agency's."""
    return {"items": await service.list_sources(state.opensearch, state.settings, principal.agency_scope)}


@router.post("", response_model=SourceCreated, status_code=201)
async def create_source(body: SourceCreate, principal: Admin, request: Request, state: State) -> dict[str, Any]:
    """Declare a source. The answer holds its new HTTP ingest key, once: only its SHA-256 is kept."""
    source, key = await service.create_source(state.opensearch, state.settings, body, principal.username)
    await audit(
        request,
        actor=principal,
        action="source.create",
        target_type="source",
        target_id=body.id,
        details=body.model_dump(),
    )
    return source | {"ingest_key": key}


@router.post("/{source_id}/shipper-configs", response_model=ShipperConfigs)
async def shipper_configs(
    source_id: SourceId, body: ShipperConfigsRequest, principal: Reader, state: State
) -> dict[str, Any]:
    """rsyslog, syslog-ng, NXLog, Winlogbeat and Fluent Bit configurations for the source, with its
    ingest key filled in (a POST: the key travels in the body, never in a URL or an access log)."""
    return await onboarding.shipper_configs(
        state.opensearch, state.settings, source_id, principal.agency_scope, body.ingest_key
    )


@router.get("/{source_id}/onboarding", response_model=OnboardingStatus)
async def onboarding_status(source_id: SourceId, principal: Reader, state: State) -> dict[str, Any]:
    """Has the source's first event arrived (stored), and the last hour's parse-error rate."""
    return await onboarding.first_event_status(state.opensearch, state.settings, source_id, principal.agency_scope)


@router.post("/{source_id}/key", response_model=IngestKey)
async def rotate_key(source_id: SourceId, principal: Admin, request: Request, state: State) -> dict[str, Any]:
    """Replace the source's ingest key; the answer shows the new key once, the old one stops working."""
    key, at = await service.rotate_key(state.opensearch, state.settings, source_id)
    await audit(
        request,
        actor=principal,
        action="source.key_rotate",
        target_type="source",
        target_id=source_id,
        details={},
    )
    return {"source_id": source_id, "ingest_key": key, "key_rotated_at": at}


@router.patch("/{source_id}", response_model=SourceOut)
async def update_source(
    source_id: SourceId, body: SourceUpdate, principal: Admin, request: Request, state: State
) -> dict[str, Any]:
    """Edit an API-declared source (only the fields sent change), or disable it (`enabled: false`):
    collectors, normaliser, source health and retention follow within `sources_refresh_secs`."""
    source = await service.update_source(state.opensearch, state.settings, source_id, body, principal.username)
    changes = body.model_dump(exclude_unset=True)
    action = "source.update"
    if set(changes) == {"enabled"}:
        action = "source.enable" if changes["enabled"] else "source.disable"
    await audit(
        request,
        actor=principal,
        action=action,
        target_type="source",
        target_id=source_id,
        details=changes,
    )
    return source


@router.delete("/{source_id}", status_code=204, response_class=Response)
async def delete_source(source_id: SourceId, principal: Admin, request: Request, state: State) -> Response:
    """Forget an API-declared source: its senders are unknown again and its key stops working."""
    await service.delete_source(state.opensearch, state.settings, source_id)
    await audit(
        request,
        actor=principal,
        action="source.delete",
        target_type="source",
        target_id=source_id,
        details={},
    )
    return Response(status_code=204)
