"""Domain errors -> HTTP, in one place."""

from __future__ import annotations

from typing import Any

from canhgac.core.errors import (
    BackendUnavailable,
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    RuleRejected,
    Unauthenticated,
)
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

# What a 422 keeps of each validation error: where and why, never the value sent (a login body's
# password would be handed back, and a 50 MiB body echoed whole).
VALIDATION_ERROR_KEYS = ("type", "loc", "msg")


class ErrorBody(BaseModel):
    """What every refusal answers (422s list their validation errors in `detail` instead)."""

    detail: str
    rejected: list[dict[str, Any]] | None = Field(
        default=None, exclude_if=lambda v: v is None, description="a rule that does not compile: why, rule by rule"
    )


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


# The answers the handlers below give, documented once for every API route (api/app.py).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("refused: a bad time range, a query too costly, a rule that does not compile …"),
    401: _error("no valid session or token"),
    403: _error("the role does not allow this, or the CSRF header is missing"),
    404: _error("not found, or not visible to the caller"),
    409: _error("conflicts with the current state"),
    413: _error("request body over the configured limit"),
    429: _error("too many attempts: retry after `Retry-After` seconds"),
    503: _error("OpenSearch or Kafka unreachable: retry later"),
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def unprocessable(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{k: e[k] for k in VALIDATION_ERROR_KEYS if k in e} for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": jsonable_encoder(errors)})

    @app.exception_handler(NotFound)
    async def not_found(_request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": exc.message})

    @app.exception_handler(InvalidRequest)
    async def invalid(_request: Request, exc: InvalidRequest) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": exc.message})

    @app.exception_handler(RuleRejected)
    async def rule_rejected(_request: Request, exc: RuleRejected) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": exc.message, "rejected": exc.rejections})

    @app.exception_handler(Conflict)
    async def conflict(_request: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": exc.message})

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(_request: Request, exc: Unauthenticated) -> JSONResponse:
        return JSONResponse(
            status_code=401,
            content={"detail": exc.message},
            headers={"WWW-Authenticate": 'Bearer realm="canhgac"'},
        )

    @app.exception_handler(PermissionDenied)
    async def denied(_request: Request, exc: PermissionDenied) -> JSONResponse:
        return JSONResponse(status_code=403, content={"detail": exc.message})

    @app.exception_handler(RateLimited)
    async def limited(_request: Request, exc: RateLimited) -> JSONResponse:
        return JSONResponse(
            status_code=429,
            content={"detail": exc.message},
            headers={"Retry-After": str(exc.retry_after_secs)},
        )

    @app.exception_handler(BackendUnavailable)
    async def unavailable(_request: Request, exc: BackendUnavailable) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": exc.message}, headers={"Retry-After": "5"})
