"""Routes of the indicator store and the feeds. Analysts (tune) add, expire, remove and import
indicators; admins (manage_rules) manage feeds, which hold credentials. Every change is audited."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from canhgac.api.audit.service import audit
from canhgac.api.deps import RuleManager, State, Tuner, TuningReader
from canhgac.api.intel import feeds, service
from canhgac.api.intel.models import FEED_ID as FEED_ID_PATTERN
from canhgac.api.intel.models import (
    ExpireRequest,
    FeedCreate,
    FeedList,
    FeedOut,
    FeedUpdate,
    ImportFormat,
    ImportRequest,
    ImportResult,
    IndicatorCreate,
    IndicatorList,
    IndicatorOut,
    PollResult,
)
from canhgac.api.retro.service import enqueue_indicators
from canhgac.api.retro.views import audit_started
from canhgac.core.errors import InvalidRequest
from canhgac.rules.intel.formats import Parsed, parse_csv, parse_misp_event, parse_plain, parse_stix_bundle
from canhgac.rules.intel.indicators import IndicatorType, normalise
from fastapi import APIRouter, Path, Query, Request, Response

router = APIRouter(prefix="/api/v1/intel", tags=["threat intel"])
IndicatorId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
FeedId = Annotated[str, Path(pattern=FEED_ID_PATTERN)]


async def _audit(
    state: State, request: Request, principal: Any, action: str, target: str, details: dict[str, Any]
) -> None:
    await audit(
        request,
        actor=principal,
        action=action,
        target_type="indicator" if action.startswith("indicator") else "intel_feed",
        target_id=target,
        details=details,
    )


@router.get("/indicators", response_model=IndicatorList)
async def list_indicators(
    principal: TuningReader,
    state: State,
    value: Annotated[str | None, Query(max_length=4096)] = None,
    type: Annotated[IndicatorType | None, Query()] = None,
    feed: Annotated[str | None, Query(max_length=64)] = None,
    agency: Annotated[str | None, Query(max_length=64)] = None,
    active: bool | None = None,
    size: Annotated[int, Query(ge=1, le=service.MAX_LISTED)] = 100,
) -> dict[str, Any]:
    """Newest first; `value` is compared after normalisation when `type` is given."""
    if value and type:
        try:
            type, value = normalise(type, value)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from exc
    total, items = await service.list_indicators(
        state.opensearch,
        state.settings.opensearch,
        value=value,
        kind=type.value if type else None,
        feed=feed,
        agency=agency,
        active=active,
        size=size,
    )
    return {"total": total, "items": items}


@router.post("/indicators", response_model=IndicatorOut, status_code=201)
async def add_indicator(body: IndicatorCreate, principal: Tuner, request: Request, state: State) -> dict[str, Any]:
    """Stored normalised; the detector matches it within `rules.reload_interval_secs`."""
    doc = await service.add_indicator(state.opensearch, state.settings.opensearch, body, principal.username)
    details = {k: doc[k] for k in ("type", "value", "feed", "agency", "confidence", "severity", "expires_at", "reason")}
    await _audit(state, request, principal, "indicator.add", doc["id"], details)
    await _hunt(state, request, principal, [doc["id"]], "indicator.add")
    return doc


async def _hunt(state: State, request: Request, principal: Any, ids: list[str], trigger: str) -> list[str]:
    """Retro-hunt what just arrived over the stored events (api/retro); the jobs' ids."""
    jobs = await enqueue_indicators(state.opensearch, state.settings, ids, trigger=trigger, by=principal.username)
    await audit_started(request, principal, jobs)
    return [str(j["id"]) for j in jobs]


@router.get("/indicators/{indicator_id}", response_model=IndicatorOut)
async def get_indicator(indicator_id: IndicatorId, principal: TuningReader, state: State) -> dict[str, Any]:
    return await service.get_indicator(state.opensearch, state.settings.opensearch, indicator_id)


@router.post("/indicators/{indicator_id}/expire", response_model=IndicatorOut)
async def expire_indicator(
    indicator_id: IndicatorId, body: ExpireRequest, principal: Tuner, request: Request, state: State
) -> dict[str, Any]:
    """Stops matching now (within the detector's reload cycle); stays listed, inactive."""
    doc = await service.expire_indicator(
        state.opensearch, state.settings.opensearch, indicator_id, principal.username, body.reason
    )
    details = {"type": doc["type"], "value": doc["value"], "feed": doc["feed"], "reason": body.reason}
    await _audit(state, request, principal, "indicator.expire", indicator_id, details)
    return doc


@router.delete("/indicators/{indicator_id}", status_code=204)
async def remove_indicator(indicator_id: IndicatorId, principal: Tuner, request: Request, state: State) -> Response:
    doc = await service.remove_indicator(state.opensearch, state.settings.opensearch, indicator_id)
    details = {"type": doc.get("type"), "value": doc.get("value"), "feed": doc.get("feed")}
    await _audit(state, request, principal, "indicator.remove", indicator_id, details)
    return Response(status_code=204)


def _parse_import(body: ImportRequest) -> Parsed:
    try:
        if body.format is ImportFormat.CSV:
            return parse_csv(body.content)
        if body.format is ImportFormat.PLAIN:
            return parse_plain(body.content, body.type)
        document = orjson.loads(body.content)
        return parse_stix_bundle(document) if body.format is ImportFormat.STIX else parse_misp_event(document)
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidRequest(f"not a valid {body.format.value} file: {exc}") from exc


@router.post("/import", response_model=ImportResult)
async def import_indicators(body: ImportRequest, principal: Tuner, request: Request, state: State) -> dict[str, Any]:
    """A bulletin's file (CSV, plain list, STIX 2.1 bundle, MISP event) into the store as one feed."""
    parsed = _parse_import(body)
    docs = service.store_candidates(
        parsed.candidates,
        feed=body.feed,
        agency=body.agency,
        by=principal.username,
        confidence=body.confidence,
        severity=body.severity,
        expires_days=body.expires_days,
        reason=body.reason,
    )
    stored = await service.store(state.opensearch, state.settings.opensearch, docs)
    result: dict[str, Any] = {"feed": body.feed, "stored": stored, "skipped": dict(parsed.skipped)}
    await _audit(
        state,
        request,
        principal,
        "indicator.import",
        body.feed,
        {**result, "format": body.format.value, "agency": body.agency},
    )
    result["hunts"] = await _hunt(state, request, principal, [d["id"] for d in docs], "indicator.import")
    return result


@router.get("/feeds", response_model=FeedList)
async def list_feeds(principal: TuningReader, state: State) -> dict[str, Any]:
    cfg = state.settings.opensearch
    counts = await service.feed_counts(state.opensearch, cfg)
    now = datetime.now(UTC)
    return {"items": [feeds.feed_out(doc, counts, now) for doc in await feeds.list_feeds(state.opensearch, cfg)]}


@router.post("/feeds", response_model=FeedOut, status_code=201)
async def create_feed(body: FeedCreate, principal: RuleManager, request: Request, state: State) -> dict[str, Any]:
    """Polled every `interval_secs` by the API's feed poller (the first poll within seconds)."""
    doc = await feeds.create_feed(state.opensearch, state.settings.opensearch, body, principal.username)
    details = {"kind": body.kind.value, "url": body.url, "collection": body.collection, "agency": body.agency}
    await _audit(state, request, principal, "intel_feed.create", body.id, details)
    return feeds.feed_out(doc, {}, datetime.now(UTC))


@router.patch("/feeds/{feed_id}", response_model=FeedOut)
async def update_feed(
    feed_id: FeedId, body: FeedUpdate, principal: RuleManager, request: Request, state: State
) -> dict[str, Any]:
    cfg = state.settings.opensearch
    doc = await feeds.update_feed(state.opensearch, cfg, feed_id, body)
    await _audit(
        state, request, principal, "intel_feed.update", feed_id, body.model_dump(mode="json", exclude_unset=True)
    )
    return feeds.feed_out(doc, await service.feed_counts(state.opensearch, cfg), datetime.now(UTC))


@router.delete("/feeds/{feed_id}", status_code=204)
async def delete_feed(
    feed_id: FeedId,
    principal: RuleManager,
    request: Request,
    state: State,
    indicators: Annotated[bool, Query(description="also remove the feed's indicators")] = True,
) -> Response:
    await feeds.delete_feed(state.opensearch, state.settings.opensearch, feed_id, indicators=indicators)
    await _audit(state, request, principal, "intel_feed.delete", feed_id, {"indicators_removed": indicators})
    return Response(status_code=204)


@router.post("/feeds/{feed_id}/poll", response_model=PollResult)
async def poll_feed(feed_id: FeedId, principal: RuleManager, request: Request, state: State) -> dict[str, Any]:
    """Poll now instead of waiting for the schedule."""
    result = await feeds.poll_feed(state.opensearch, state.settings.opensearch, feed_id)
    ids = result.pop("indicator_ids", [])
    await _audit(state, request, principal, "intel_feed.poll", feed_id, result)
    result["hunts"] = await _hunt(state, request, principal, ids, f"feed:{feed_id}")
    return result
