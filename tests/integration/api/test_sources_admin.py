"""Sources declared through the API: creation with a key shown once, key rotation, only hashes stored."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from tests.integration.api.conftest import AGENCY_A, AGENCY_B

pytestmark = pytest.mark.integration


async def test_create_source_and_rotate_key(api) -> None:  # type: ignore[no-untyped-def]
    body = {
        "id": "motcua-web",
        "agency": AGENCY_A,
        "format": "nginx_access",
        "transports": ["http"],
        "allowed_addresses": ["10.1.2.0/24", "10.1.3.4"],
        "security_level": 4,
        "expected_interval_secs": 600,
        "timezone": "Asia/Ho_Chi_Minh",
    }
    os_client = api.app.state.canhgac.opensearch
    index = api.settings.opensearch.source_configs_index
    async with api.client("admin") as admin:
        created = await admin.post("/api/v1/sources", json=body)
        assert created.status_code == 201, created.text
        first_key = created.json()["ingest_key"]
        assert len(first_key) >= 43 and created.json()["allowed_addresses"] == ["10.1.2.0/24", "10.1.3.4/32"]
        assert "ingest_key_sha256" not in created.json() and created.json()["has_ingest_key"]
        stored = (await os_client.get(index=index, id="motcua-web"))["_source"]
        assert stored["ingest_key_sha256"] == hashlib.sha256(first_key.encode()).hexdigest()
        assert first_key not in str(stored)

        assert (await admin.post("/api/v1/sources", json=body)).status_code == 409
        for bad in (
            {"allowed_addresses": ["10.1.2.300"]},
            {"timezone": "Mars/Base"},
            {"transports": ["pigeon"]},
            {"id": "Bad Id"},
            {"security_level": 9},
            {"secret": "x"},
        ):
            assert (await admin.post("/api/v1/sources", json={**body, "id": "other", **bad})).status_code == 422, bad

        rotated = await admin.post("/api/v1/sources/motcua-web/key")
        assert rotated.status_code == 200
        second_key = rotated.json()["ingest_key"]
        assert second_key != first_key
        stored = (await os_client.get(index=index, id="motcua-web"))["_source"]
        assert stored["ingest_key_sha256"] == hashlib.sha256(second_key.encode()).hexdigest()
        assert (await admin.post("/api/v1/sources/nope/key")).status_code == 404

        await admin.post("/api/v1/sources", json={**body, "id": "benhvien-his", "agency": AGENCY_B})
        listed = {s["id"]: s for s in (await admin.get("/api/v1/sources")).json()["items"]}
        assert listed["motcua-web"]["origin"] == "api" and listed["motcua-web"]["security_level"] == 4
        assert "ingest_key_sha256" not in listed["motcua-web"] and "benhvien-his" in listed
    async with api.client("agency_viewer") as scoped:
        ids = {s["id"] for s in (await scoped.get("/api/v1/sources")).json()["items"]}
        assert "motcua-web" in ids and "benhvien-his" not in ids
    await asyncio.sleep(1.1)
    async with api.client("admin") as admin:
        audit = (await admin.get("/api/v1/audit", params={"target_id": "motcua-web"})).json()["items"]
    assert sorted(a["action"] for a in audit) == ["source.create", "source.key_rotate"]
    assert first_key not in str(audit) and second_key not in str(audit)
