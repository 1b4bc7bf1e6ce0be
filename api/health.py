from __future__ import annotations

from typing import Any, Literal

from canhgac.api.deps import State
from canhgac.core.kafka import kafka_reachable
from canhgac.core.store import opensearch_reachable
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

router = APIRouter(tags=["health"])
Reachability = Literal["ok", "unreachable"]


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    kafka: Reachability
    opensearch: Reachability


@router.get("/healthz", response_model=Health)
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness, "description": "not ready"}})
async def readyz(state: State, response: Response) -> dict[str, Any]:
    """Kafka and OpenSearch are reachable."""
    kafka_ok = await kafka_reachable(state.settings.kafka, component="api")
    os_ok = await opensearch_reachable(state.opensearch)
    response.status_code = 200 if kafka_ok and os_ok else 503
    return {"kafka": "ok" if kafka_ok else "unreachable", "opensearch": "ok" if os_ok else "unreachable"}


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"description": "Prometheus text exposition format", "content": {CONTENT_TYPE_LATEST: {}}}},
)
async def metrics(state: State) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
