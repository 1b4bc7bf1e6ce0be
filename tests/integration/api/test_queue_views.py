"""The queue's saved views (private, shared with the team, agency isolation, audit), its grouping
and source-address filter, and a rule's YAML and hits/false-positive statistics (issue 14 items 5
and 8), on the real OpenSearch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import eventually
from tests.integration.api.conftest import AGENCY_A, AGENCY_B, make_alert

pytestmark = pytest.mark.integration

BUNDLED_RULE = "06888d57-bcd1-55d5-82b9-261400ea7dfe"  # SSH password authentication failed


async def test_saved_views_groups_and_rule_stats(api: Any) -> None:
    """One API for the three (its setup is most of the time): each part is a function below."""
    await put_alerts(api)
    await saved_views_private_shared_per_team_and_audited(api)
    await queue_groups_and_source_address(api)
    await rule_yaml_and_stats(api)


async def put_alerts(api: Any) -> None:
    """Next to the seeded alert-a (so-tttt, web01) and alert-b (so-yte, hospital01), both of rule-1:
    two more of rule-1 two days ago (one closed as a false positive, one as a true positive) and
    one of rule-2 on web02 from another address."""
    from canhgac.core.store import make_client

    client = make_client(api.settings.opensearch, component="admin")
    now = datetime.now(UTC)
    docs = {
        "alert-fp": make_alert("alert-fp", AGENCY_A, ["ev-x"], now - timedelta(days=2)) | {"status": "closed"},
        "alert-tp": make_alert("alert-tp", AGENCY_B, ["ev-y"], now - timedelta(days=2)) | {"status": "closed"},
        "alert-r2": make_alert("alert-r2", AGENCY_A, ["ev-z"], now - timedelta(hours=1), host="web02"),
    }
    docs["alert-fp"]["resolution"] = "false_positive"
    docs["alert-tp"]["resolution"] = "true_positive"
    docs["alert-r2"]["rule"] = docs["alert-r2"]["rule"] | {"id": "rule-2", "title": "Port scan"}
    docs["alert-r2"]["source"] = {"ip": "198.51.100.9"}
    try:
        for alert_id, doc in docs.items():
            await client.index(index=api.settings.opensearch.alerts_index, id=alert_id, body=doc)
        await client.indices.refresh(index=api.settings.opensearch.alerts_index)
    finally:
        await client.close()


async def saved_views_private_shared_per_team_and_audited(api: Any) -> None:
    filters = {"status": "all", "rule_id": "rule-1", "agency": AGENCY_A, "sort": "priority", "group_by": "host"}
    async with (
        api.client("analyst") as analyst,
        api.client("admin") as admin,
        api.client("agency_viewer") as agency_viewer,
    ):
        private = await analyst.post("/api/v1/saved-views", json={"name": "mine", "filters": {"host": "web01"}})
        assert private.status_code == 201, private.text
        shared = await analyst.post("/api/v1/saved-views", json={"name": "SSH sở", "filters": filters, "shared": True})
        assert shared.status_code == 201, shared.text
        assert shared.json()["team"] == "soc" and shared.json()["filters"]["sort"] == "priority"
        theirs = await agency_viewer.post("/api/v1/saved-views", json={"name": "agency", "filters": {}, "shared": True})
        assert theirs.status_code == 201 and theirs.json()["team"] == AGENCY_A

        names = lambda resp: sorted(v["name"] for v in resp.json()["items"])  # noqa: E731
        assert names(await analyst.get("/api/v1/saved-views")) == ["SSH sở", "mine"]
        # Another member of the team sees the shared view with its filters, not the private one.
        seen = await admin.get("/api/v1/saved-views")
        assert names(seen) == ["SSH sở"]
        assert seen.json()["items"][0]["filters"] == shared.json()["filters"]
        # Agencies and the SOC never see each other's, shared or not.
        assert names(await agency_viewer.get("/api/v1/saved-views")) == ["agency"]
        assert (await agency_viewer.delete(f"/api/v1/saved-views/{shared.json()['id']}")).status_code == 404
        assert (await admin.delete(f"/api/v1/saved-views/{private.json()['id']}")).status_code == 404
        # Filters the queue does not have are refused.
        bad = await analyst.post("/api/v1/saved-views", json={"name": "bad", "filters": {"colour": "red"}})
        assert bad.status_code == 422, bad.text
        # The owner deletes; an admin of the team may delete a shared one too.
        assert (await analyst.delete(f"/api/v1/saved-views/{private.json()['id']}")).status_code == 204
        assert (await admin.delete(f"/api/v1/saved-views/{shared.json()['id']}")).status_code == 204
        assert names(await analyst.get("/api/v1/saved-views")) == []

        async def records() -> list[dict[str, Any]]:
            resp = await admin.get("/api/v1/audit", params={"action": "saved_view.create", "size": 50})
            items: list[dict[str, Any]] = resp.json()["items"]
            return items if len(items) >= 3 else []

        created = await eventually(records, timeout_secs=30)
        first = next(r for r in created if r["details"]["name"] == "SSH sở")
        assert first["actor"]["username"] == "analyst" and first["details"]["filters"]["rule_id"] == "rule-1"


async def queue_groups_and_source_address(api: Any) -> None:
    async with api.client("analyst") as analyst, api.client("agency_viewer") as agency_viewer:
        by_rule = (await analyst.get("/api/v1/alerts/groups", params={"by": "rule"})).json()
        assert [(g["key"], g["label"], g["count"]) for g in by_rule["groups"]] == [
            ("rule-1", "SSH brute force", 4),
            ("rule-2", "Port scan", 1),
        ]
        assert (by_rule["total"], by_rule["other"], by_rule["missing"]) == (5, 0, 0)
        # The same filters as the list: open alerts of so-tttt, by host.
        by_host = await analyst.get("/api/v1/alerts/groups", params={"by": "host", "status": "new", "agency": AGENCY_A})
        assert {g["key"]: g["count"] for g in by_host.json()["groups"]} == {"web01": 1, "web02": 1}
        # An agency viewer's groups cover what it may see only.
        seen = (await agency_viewer.get("/api/v1/alerts/groups", params={"by": "agency"})).json()
        assert [(g["key"], g["count"]) for g in seen["groups"]] == [(AGENCY_A, 3)]
        assert (await analyst.get("/api/v1/alerts/groups", params={"by": "colour"})).status_code == 422
        # The source address filter (the list and its groups).
        page = (await analyst.get("/api/v1/alerts", params={"source_ip": "198.51.100.9", "status": "new"})).json()
        assert [a["id"] for a in page["items"]] == ["alert-r2"]
        bad = await analyst.get("/api/v1/alerts", params={"source_ip": "not-an-address"})
        assert bad.status_code == 422


async def rule_yaml_and_stats(api: Any) -> None:
    async with api.client("viewer") as viewer, api.client("agency_viewer") as agency_viewer:
        rule = await viewer.get(f"/api/v1/rules/{BUNDLED_RULE}")
        assert rule.status_code == 200, rule.text
        assert f"id: {BUNDLED_RULE}" in rule.json()["yaml"] and rule.json()["source"] == "bundled"
        assert (await viewer.get("/api/v1/rules/no-such-rule")).status_code == 404

        now = datetime.now(UTC)
        window = {"start": (now - timedelta(days=3)).isoformat(), "end": now.isoformat(), "interval_secs": 86400}
        stats = (await viewer.get("/api/v1/rules/rule-1/stats", params=window)).json()
        assert (stats["alerts"], stats["closed"], stats["false_positive"]) == (4, 2, 1)
        assert sum(b["alerts"] for b in stats["buckets"]) == 4 and len(stats["buckets"]) >= 3
        older = [b for b in stats["buckets"] if b["closed"]]
        assert [(b["alerts"], b["closed"], b["false_positive"]) for b in older] == [(2, 2, 1)]
        # An agency viewer counts its agency's alerts only (alert-a and alert-fp).
        own = (await agency_viewer.get("/api/v1/rules/rule-1/stats", params=window)).json()
        assert (own["alerts"], own["closed"], own["false_positive"]) == (2, 1, 1)
