from __future__ import annotations

from canhgac.api.deps import State
from canhgac.core.kafka import kafka_reachable
from canhgac.core.store import opensearch_reachable
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(state: State) -> JSONResponse:
    """Kafka and OpenSearch are reachable."""
    kafka_ok = await kafka_reachable(state.settings.kafka, component="api")
    os_ok = await opensearch_reachable(state.opensearch)
    body = {"kafka": "ok" if kafka_ok else "unreachable", "opensearch": "ok" if os_ok else "unreachable"}
    return JSONResponse(status_code=200 if kafka_ok and os_ok else 503, content=body)


@router.get("/metrics")
async def metrics(state: State) -> Response:
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
