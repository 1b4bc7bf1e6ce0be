"""Search tools on the real OpenSearch (issue 14 item 4): saved searches (private, shared with the
team, agency isolation), exports (CSV and NDJSON, the row cap, the audit record) and top values of
any field."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from tests.conftest import eventually
from tests.integration.api.conftest import AGENCY_A, PASSWORD

pytestmark = pytest.mark.integration

EXPORT_CAP = 2


@pytest.fixture
def api_settings(test_settings):  # type: ignore[no-untyped-def]
    """The shared fixture's settings with a small export cap, so the cap is met by three events."""
    update = {"stream_poll_secs": 0.2, "login_max_failures": 3, "max_export_rows": EXPORT_CAP}
    return test_settings.model_copy(update={"api": test_settings.api.model_copy(update=update)})


async def test_saved_searches_exports_and_top_values(api: Any) -> None:
    """One API for the three (its setup is most of the time): each part is a function below."""
    await saved_searches_private_shared_and_per_team(api)
    await export_csv_ndjson_cap_and_audit(api)
    await top_values_of_any_field(api)


async def saved_searches_private_shared_and_per_team(api: Any) -> None:
    async with api.client("admin") as admin:
        resp = await admin.post("/api/v1/users", json={"username": "analyst2", "role": "analyst", "password": PASSWORD})
        assert resp.status_code == 201, resp.text
    second = await api.login("analyst2")
    async with api.client("analyst") as analyst, api.client("agency_viewer") as agency_viewer:
        private = await analyst.post("/api/v1/saved-searches", json={"name": "mine", "query": "host.name:web01"})
        assert private.status_code == 201, private.text
        shared = await analyst.post(
            "/api/v1/saved-searches",
            json={
                "name": "SSH thất bại",
                "query": 'message:"Failed password"',
                "start": "2026-12-06T08:00:00+07:00",
                "end": "2026-12-06T09:00:00+07:00",
                "shared": True,
            },
        )
        assert shared.status_code == 201, shared.text
        assert shared.json()["team"] == "soc" and shared.json()["range"] is None
        theirs = await agency_viewer.post("/api/v1/saved-searches", json={"name": "agency", "shared": True})
        assert theirs.status_code == 201 and theirs.json()["team"] == AGENCY_A

        names = lambda resp: sorted(s["name"] for s in resp.json()["items"])  # noqa: E731
        assert names(await analyst.get("/api/v1/saved-searches")) == ["SSH thất bại", "mine"]
        # Another analyst of the team sees the shared one, with its absolute range, not the private one.
        seen = await second.get("/api/v1/saved-searches")
        assert names(seen) == ["SSH thất bại"]
        assert seen.json()["items"][0]["start"].startswith("2026-12-06T01:00:00")
        # Agencies and the SOC never see each other's, shared or not.
        assert names(await agency_viewer.get("/api/v1/saved-searches")) == ["agency"]
        assert (await agency_viewer.delete(f"/api/v1/saved-searches/{shared.json()['id']}")).status_code == 404
        # Only the owner deletes (another analyst may not; a private one is not even there for them).
        assert (await second.delete(f"/api/v1/saved-searches/{shared.json()['id']}")).status_code == 403
        assert (await second.delete(f"/api/v1/saved-searches/{private.json()['id']}")).status_code == 404
        assert (await analyst.delete(f"/api/v1/saved-searches/{shared.json()['id']}")).status_code == 204
        assert names(await second.get("/api/v1/saved-searches")) == []
        # What search would refuse is not saved.
        bad = await analyst.post("/api/v1/saved-searches", json={"name": "bad", "query": "*admin"})
        assert bad.status_code == 400 and "leading wildcards" in bad.text
        naive = await analyst.post(
            "/api/v1/saved-searches",
            json={"name": "naive", "start": "2026-12-06T08:00:00", "end": "2026-12-06T09:00:00"},
        )
        assert naive.status_code == 400
    await second.aclose()


async def export_csv_ndjson_cap_and_audit(api: Any) -> None:
    async with api.client("analyst") as analyst, api.client("agency_viewer") as agency_viewer:
        resp = await analyst.post("/api/v1/events/export", json={"query": "*", "format": "csv"})
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"].startswith("text/csv")
        assert "attachment" in resp.headers["content-disposition"]
        assert (resp.headers["x-export-total"], resp.headers["x-export-rows"]) == ("3", str(EXPORT_CAP))
        assert (resp.headers["x-export-cap"], resp.headers["x-export-truncated"]) == (str(EXPORT_CAP), "true")
        rows = list(csv.DictReader(io.StringIO(resp.text)))
        assert len(rows) == EXPORT_CAP
        assert rows[0]["@timestamp"] >= rows[1]["@timestamp"]  # newest first
        assert {r["host.name"] for r in rows} <= {"web01", "hospital01"} and all(r["message"] for r in rows)

        resp = await agency_viewer.post(
            "/api/v1/events/export", json={"query": "host.name:web01", "format": "ndjson", "fields": ["message"]}
        )
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in resp.text.splitlines()]
        assert sorted(e["event"]["id"] for e in lines) == ["ev-a-1", "ev-a-2"]
        assert {e["canhgac"]["agency"] for e in lines} == {AGENCY_A}
        assert resp.headers["x-export-truncated"] == "false"

        csv_one = await analyst.post(
            "/api/v1/events/export", json={"query": "host.name:hospital01", "fields": ["event.id", "canhgac.agency"]}
        )
        assert csv_one.text.splitlines() == ["event.id,canhgac.agency", "ev-b-1,so-yte"]
        over = await analyst.post("/api/v1/events/export", json={"limit": EXPORT_CAP + 1})
        assert over.status_code == 400 and "max_export_rows" in over.text
        refused = await analyst.post("/api/v1/events/export", json={"query": "/.*x/"})
        assert refused.status_code == 400

    async with api.client("admin") as admin:

        async def exports() -> list[dict[str, Any]]:
            resp = await admin.get("/api/v1/audit", params={"action": "events.export", "size": 50})
            return resp.json()["items"] if len(resp.json()["items"]) >= 3 else []

        records = await eventually(exports, timeout_secs=30)
        first = next(r for r in records if r["details"]["format"] == "csv" and r["details"]["query"] == "*")
        assert first["actor"]["username"] == "analyst"
        assert (first["details"]["rows"], first["details"]["total"], first["details"]["cap"]) == (EXPORT_CAP, 3, 2)
        assert any(r["actor"]["username"] == "agency-viewer" and r["details"]["format"] == "ndjson" for r in records)


async def top_values_of_any_field(api: Any) -> None:
    async with api.client("analyst") as analyst:
        message = await analyst.post("/api/v1/events/top", json={"field": "message", "size": 5})
        assert message.status_code == 200, message.text
        assert message.json()["field"] == "message"
        assert "Accepted password for staff1" in {v["value"] for v in message.json()["values"]}
        ids = await analyst.post("/api/v1/events/top", json={"field": "event.id", "query": "host.name:web01"})
        assert sorted(v["value"] for v in ids.json()["values"]) == ["ev-a-1", "ev-a-2"]
        too_many = await analyst.post("/api/v1/events/top", json={"field": "event.id", "size": 51})
        assert too_many.status_code == 400
        guarded = await analyst.post("/api/v1/events/top", json={"field": "event.id", "query": "*root"})
        assert guarded.status_code == 400 and "leading wildcards" in guarded.text
        bad_field = await analyst.post("/api/v1/events/top", json={"field": "a b"})
        assert bad_field.status_code == 400
