"""Issue 12: the sources API refuses a format no parser has, naming the known ones, and stores an
alias as the parser's name (it used to accept `nginx`, whose records all became pipeline errors)."""

from __future__ import annotations

import pytest

from tests.integration.api.conftest import AGENCY_A

pytestmark = pytest.mark.integration


async def test_unknown_format_refused_alias_resolved(api) -> None:  # type: ignore[no-untyped-def]
    body = {"id": "portal-nginx", "agency": AGENCY_A, "format": "nginxx"}
    async with api.client("admin") as admin:
        refused = await admin.post("/api/v1/sources", json=body)
        assert refused.status_code == 400, refused.text  # a domain refusal naming the known formats
        assert "unknown format 'nginxx'" in refused.text and "nginx-access" in refused.text
        created = await admin.post("/api/v1/sources", json={**body, "format": "nginx"})
        assert created.status_code == 201, created.text
        assert created.json()["format"] == "nginx-access"
        listed = {s["id"]: s for s in (await admin.get("/api/v1/sources")).json()["items"]}
        assert listed["portal-nginx"]["format"] == "nginx-access"
