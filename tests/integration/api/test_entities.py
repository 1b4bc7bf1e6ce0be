"""GET /api/v1/entities/{kind}/{value} on the real OpenSearch: what the console's entity pages show,
in the caller's agency scope (issue 14 item 2)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


async def test_entity_pages_follow_the_agency_scope(api) -> None:  # type: ignore[no-untyped-def]
    async with api.client("admin") as admin, api.client("agency_viewer") as scoped:
        host = (await admin.get("/api/v1/entities/host/web01")).json()
        assert host["events"]["total"] == 2
        assert host["events"]["first_seen"] and host["events"]["last_seen"] >= host["events"]["first_seen"]
        assert host["events"]["agencies"] == [{"value": "so-tttt", "count": 2}]
        assert host["events"]["sources"] == [{"value": "src-so-tttt", "count": 2}]
        assert sum(b["count"] for b in host["events"]["buckets"]) == 2
        assert [a["id"] for a in host["alerts"]["items"]] == ["alert-a"]

        ip = (await admin.get("/api/v1/entities/ip/203.0.113.66")).json()
        assert ip["alerts"]["total"] == 2 and ip["event_fields"][0] == "source.ip"
        mine = (await scoped.get("/api/v1/entities/ip/203.0.113.66")).json()
        assert [a["id"] for a in mine["alerts"]["items"]] == ["alert-a"]

        other = (await scoped.get("/api/v1/entities/host/hospital01")).json()
        assert other["events"]["total"] == 0 and other["alerts"]["total"] == 0
        assert (await admin.get("/api/v1/entities/host/hospital01")).json()["events"]["total"] == 1

        refused = await admin.get("/api/v1/entities/ip/not-an-ip")
        assert refused.status_code == 400 and "not an IP address" in refused.json()["detail"]
        assert (await admin.get("/api/v1/entities/process/x")).status_code == 422
        assert (await admin.get("/api/v1/entities/host/web01", params={"days": 90})).status_code == 422
