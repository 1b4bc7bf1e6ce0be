"""POST /api/v1/alerts/bulk on the real OpenSearch: one call changes many alerts with a bulk write
and answers item by item (issue 14: the console's bulk close of 50 alerts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.api.conftest import AGENCY_A, make_alert

pytestmark = pytest.mark.integration


async def test_bulk_close_answers_item_by_item(api) -> None:  # type: ignore[no-untyped-def]
    from canhgac.core.store import make_client

    index = api.settings.opensearch.alerts_index
    client = make_client(api.settings.opensearch, component="admin")
    now = datetime.now(UTC)
    try:
        actions = []
        for i in range(50):
            alert = make_alert(f"many-{i:02d}", AGENCY_A, ["ev-a-1"], now - timedelta(seconds=i))
            actions += [{"index": {"_index": index, "_id": alert["id"]}}, alert]
        done = make_alert("many-closed", AGENCY_A, ["ev-a-1"], now, status="closed")
        actions += [{"index": {"_index": index, "_id": "many-closed"}}, done]
        await client.bulk(body=actions, refresh="wait_for")
        ids = [f"many-{i:02d}" for i in range(50)] + ["many-closed", "no-such-alert", "many-00"]
        async with api.client("analyst") as analyst:
            resp = await analyst.post(
                "/api/v1/alerts/bulk",
                json={"ids": ids, "status": "closed", "resolution": "benign", "comment": "scanner"},
            )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        results = body["results"]
        assert [r["id"] for r in results] == ids[:-1]  # each id once, in the order asked
        assert all(r["ok"] and r["status"] == "closed" for r in results[:50])
        assert results[50] == {
            "id": "many-closed",
            "ok": False,
            "status": None,
            "assignee": None,
            "error": "alert is already closed",
        }
        assert results[51]["ok"] is False and "not found" in results[51]["error"]
        assert sorted(body["updated"]) == sorted(ids[:50]) and set(body["failed"]) == {"many-closed", "no-such-alert"}
        stored = await client.get(index=index, id="many-07")
        source = stored["_source"]
        assert source["resolution"] == "benign" and source["comments"][0]["text"] == "scanner"
        assert [h["action"] for h in source["history"]][-2:] == ["status", "comment"]

    finally:
        await client.close()
