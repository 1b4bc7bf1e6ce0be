"""Property-based requests from the OpenAPI schema (schemathesis): no route answers 5xx, every
status is one the document lists for the route, and every answer (refusals too) fits the schema
and content type the document gives for it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

SKIP = {
    "/api/v1/alerts/stream",  # endless stream
    "/api/v1/auth/logout",  # would revoke the token
    # Renders a PDF per request (seconds each); its parameters are /api/v1/reports/figures', checked here.
    "/api/v1/reports/report.pdf",
}


def examples(strategy):  # type: ignore[no-untyped-def]
    from hypothesis import HealthCheck, given, settings

    found = []

    @given(case=strategy)
    @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def collect(case) -> None:  # type: ignore[no-untyped-def]
        found.append(case)

    collect()
    return found


async def test_no_server_errors_from_schema_driven_requests(api) -> None:  # type: ignore[no-untyped-def]
    schema = api.app.openapi()
    failures: list[str] = []
    import schemathesis
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [not_a_server_error, response_schema_conformance, content_type_conformance, status_code_conformance]

    loaded = schemathesis.openapi.from_dict(schema)
    operations = [op.ok() for op in loaded.get_all_operations()]
    # Most writes and deletes wait for the next index refresh: the `api` fixture's refresher releases them.
    async with api.client("admin") as client:
        for operation in operations:
            if operation.path in SKIP:
                continue
            cases = examples(operation.as_strategy())
            for case in cases:
                kwargs = case.as_transport_kwargs(base_url="http://testserver")
                kwargs.pop("base_url", None)
                resp = await client.request(
                    kwargs.pop("method"),
                    kwargs.pop("url").replace("http://testserver", ""),
                    params=kwargs.get("params"),
                    json=kwargs.get("json"),
                    headers={k: v for k, v in (kwargs.get("headers") or {}).items() if k.lower() != "authorization"},
                    cookies=None,
                )
                try:
                    case.validate_response(resp, checks=checks)
                except (AssertionError, BaseExceptionGroup) as exc:  # one failure, or a group of them
                    found = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
                    failures.append(
                        f"{operation.method.upper()} {operation.path} {case.body!r} -> {resp.status_code}"
                        f" {resp.text[:200]}: " + "; ".join(str(f)[:400] for f in found)
                    )
    assert not failures, failures
