"""Every route documents what it answers: a pydantic response model, or a declared non-JSON answer
(HTML page, metrics text, event stream), or 204 No Content. The OpenAPI document then describes
every response, and the schema-driven integration test checks answers against it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from canhgac.api.app import create_app
from canhgac.core.config import Settings
from fastapi import FastAPI
from fastapi.datastructures import DefaultPlaceholder
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.routing import BaseRoute


def _declares_non_json(route: APIRoute) -> bool:
    response_class = route.response_class
    if not isinstance(response_class, DefaultPlaceholder) and not issubclass(response_class, JSONResponse):
        return True  # HTMLResponse, the metrics' plain Response …
    content = route.responses.get(200, {}).get("content", {})
    return bool(content) and "application/json" not in content  # e.g. text/event-stream


def api_routes(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """(full path, route) of every APIRoute, through FastAPI's included routers."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router"):  # an included router (FastAPI keeps them lazily)
            context = getattr(route, "include_context", None)
            yield from api_routes(route.original_router.routes, prefix + (getattr(context, "prefix", "") or ""))


def undocumented(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route in the OpenAPI document that does not say what it answers."""
    found = set()
    for path, route in api_routes(app.routes):
        if not route.include_in_schema:
            continue
        model = route.response_model
        documented = (
            route.status_code == 204
            or _declares_non_json(route)
            or (isinstance(model, type) and issubclass(model, BaseModel))
        )
        if not documented:
            found.update((method, path) for method in route.methods)
    return found


def _success_schemas(app: FastAPI) -> dict[tuple[str, str], Any]:
    out = {}
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            codes = sorted(c for c in operation["responses"] if c.startswith("2"))
            response = operation["responses"][codes[0]] if codes else {}
            out[(method.upper(), path)] = response.get("content", {}).get("application/json", {}).get("schema")
    return out


def test_every_route_has_a_response_model_or_a_declared_answer() -> None:
    app = create_app(Settings(), console=False)
    assert len(list(api_routes(app.routes))) > 40  # the walk reaches the included routers
    assert undocumented(app) == set(), "give these routes a response_model (in the domain's models.py)"


def test_the_openapi_document_names_a_schema_for_every_json_answer() -> None:
    app = create_app(Settings(), console=False)
    for key, schema in _success_schemas(app).items():
        if schema is None:  # not JSON: a page, metrics text, an event stream, 204
            continue
        assert "$ref" in schema, f"{key}: the answer's schema is not a named model: {schema}"


def test_the_check_catches_an_undocumented_route() -> None:
    app = FastAPI()

    @app.get("/bare")
    async def bare() -> dict[str, Any]:  # a dict is inferred as the model: it says nothing
        return {}

    @app.get("/untyped")
    async def untyped():  # type: ignore[no-untyped-def]
        return {}

    class Thing(BaseModel):
        name: str

    @app.get("/thing", response_model=Thing)
    async def thing() -> dict[str, Any]:
        return {"name": "x"}

    assert undocumented(app) == {("GET", "/bare"), ("GET", "/untyped")}
