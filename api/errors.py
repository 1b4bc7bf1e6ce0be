"""Domain errors -> HTTP, in one place."""

from __future__ import annotations

from canhgac.core.errors import BackendUnavailable, InvalidRequest, NotFound
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotFound)
    async def not_found(_request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": exc.message})

    @app.exception_handler(InvalidRequest)
    async def invalid(_request: Request, exc: InvalidRequest) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": exc.message})

    @app.exception_handler(BackendUnavailable)
    async def unavailable(_request: Request, exc: BackendUnavailable) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": exc.message}, headers={"Retry-After": "5"})
