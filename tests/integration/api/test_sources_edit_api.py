"""Issue 12: sources declared through the API are edited, disabled and deleted through it; formats
no parser has are refused with a 400 naming the known ones (aliases such as `nginx` resolve);
sources of the settings file are changed in that file (409); every change is audited."""

from __future__ import annotations

import asyncio

import pytest
from canhgac.core.config import SourceConfig

from tests.integration.api.conftest import AGENCY_A

pytestmark = pytest.mark.integration


@pytest.fixture
def api_settings(test_settings):  # type: ignore[no-untyped-def]
    return test_settings.model_copy(update={"sources": (SourceConfig(id="from-file", agency=AGENCY_A),)})


async def test_edit_disable_delete_and_format_refusal(api) -> None:  # type: ignore[no-untyped-def]
    base = {"id": "portal-web", "agency": AGENCY_A, "allowed_addresses": ["10.1.2.0/24"]}
    async with api.client("admin") as admin:
        refused = await admin.post("/api/v1/sources", json={**base, "format": "nosuchparser"})
        assert refused.status_code == 400, refused.text
        detail = refused.json()["detail"]
        assert "unknown format 'nosuchparser'" in detail and "nginx-access" in detail and "syslog" in detail
        created = await admin.post("/api/v1/sources", json={**base, "format": "nginx"})
        assert created.status_code == 201 and created.json()["format"] == "nginx-access"
        assert created.json()["enabled"] is True

        edited = await admin.patch(
            "/api/v1/sources/portal-web", json={"timezone": "+07:00", "format": "apache", "security_level": 4}
        )
        assert edited.status_code == 200, edited.text
        body = edited.json()
        assert (body["timezone"], body["format"], body["security_level"]) == ("+07:00", "apache-access", 4)
        assert body["allowed_addresses"] == ["10.1.2.0/24"] and body["updated_by"] == "admin"
        bad = await admin.patch("/api/v1/sources/portal-web", json={"format": "nosuchparser"})
        assert bad.status_code == 400 and "known:" in bad.json()["detail"]
        for wrong in ({"timezone": "Mars/Base"}, {"id": "other"}, {"ingest_key_sha256": "0" * 64}):
            assert (await admin.patch("/api/v1/sources/portal-web", json=wrong)).status_code == 422, wrong
        assert (await admin.patch("/api/v1/sources/portal-web", json={"agency": None})).status_code == 400

        off = await admin.patch("/api/v1/sources/portal-web", json={"enabled": False})
        assert off.status_code == 200 and off.json()["enabled"] is False
        listed = {s["id"]: s for s in (await admin.get("/api/v1/sources")).json()["items"]}
        assert listed["portal-web"]["enabled"] is False and listed["from-file"]["origin"] == "settings"

        assert (await admin.patch("/api/v1/sources/from-file", json={"enabled": False})).status_code == 409
        assert (await admin.delete("/api/v1/sources/from-file")).status_code == 409
        assert (await admin.patch("/api/v1/sources/nope", json={"enabled": False})).status_code == 404

        assert (await admin.delete("/api/v1/sources/portal-web")).status_code == 204
        assert (await admin.delete("/api/v1/sources/portal-web")).status_code == 404
        listed = {s["id"] for s in (await admin.get("/api/v1/sources")).json()["items"]}
        assert "portal-web" not in listed
    async with api.client("analyst") as analyst:
        assert (await analyst.patch("/api/v1/sources/x", json={"enabled": False})).status_code == 403
        assert (await analyst.delete("/api/v1/sources/x")).status_code == 403
    await asyncio.sleep(1.1)
    async with api.client("admin") as admin:
        audit = (await admin.get("/api/v1/audit", params={"target_id": "portal-web"})).json()["items"]
    assert sorted(a["action"] for a in audit) == ["source.create", "source.delete", "source.disable", "source.update"]
