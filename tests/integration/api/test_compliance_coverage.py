"""Compliance by level on the real servers: a required log category that stops arriving raises one
"log category missing" alert for that system and category only, through Kafka and the alert
indexer, even with two API replicas running the round at once; it clears when the category comes
back; coverage is read per system and an agency sees only its own systems."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import eventually
from tests.integration.api.conftest import AGENCY_A, AGENCY_B, iso

pytestmark = pytest.mark.integration

POLICY = """
missing_after_secs: 3600
levels:
  1: {requires: [authentication]}
  2: {requires: [authentication, network]}
  3: {requires: [authentication, network, web]}
  4: {requires: [authentication, network, web]}
  5: {requires: [authentication, network, web]}
"""


@pytest.fixture
def api_settings(test_settings, tmp_path):  # type: ignore[no-untyped-def]
    policy = tmp_path / "levels.yml"
    policy.write_text(POLICY, encoding="utf-8")
    # The round is driven by the test (with its own clock), not by the API's background loop.
    return test_settings.model_copy(
        update={
            "compliance": test_settings.compliance.model_copy(update={"enabled": False, "policy_file": str(policy)})
        }
    )


def event(event_id: str, agency: str, source_id: str, host: str, category: str, ingested: datetime) -> dict[str, Any]:
    return {
        "@timestamp": iso(ingested),
        "message": f"{category} event",
        "event": {"id": event_id, "category": [category], "ingested": iso(ingested)},
        "host": {"name": host},
        "canhgac": {"agency": agency, "source_id": source_id, "dataset": "test.coverage"},
    }


async def store(settings: Any, docs: list[dict[str, Any]]) -> None:
    from canhgac.core.store import events_index, make_client

    client = make_client(settings.opensearch, component="admin")
    try:
        stream = events_index(settings.opensearch.index_prefix, "test.coverage")
        for doc in docs:
            await client.index(index=stream, body=doc, op_type="create")
        await client.indices.refresh(index=f"{settings.opensearch.index_prefix}.*")
    finally:
        await client.close()


async def test_a_required_category_that_stops_raises_one_alert_and_clears(api) -> None:  # type: ignore[no-untyped-def]
    from canhgac.api.alert_publisher import AlertPublisher
    from canhgac.api.compliance.service import PolicyFile, coverage_round
    from canhgac.core.compliance import COVERAGE_RULE_ID
    from canhgac.core.metrics import Metrics
    from canhgac.core.store import make_client
    from canhgac.pipeline.alert_indexer import AlertIndexerStage

    settings = api.settings
    async with api.client("admin") as admin:
        for system in (
            # level 2: authentication and network required; network comes from the firewall source
            {
                "id": "portal",
                "name": "Cổng",
                "agency": AGENCY_A,
                "security_level": 2,
                "hosts": ["Web01-Cov"],
                "sources": ["fw-a"],
            },
            # level 1: authentication only (its missing network is not a gap)
            {"id": "office", "name": "Văn phòng", "agency": AGENCY_A, "security_level": 1, "hosts": ["10.9.0.7"]},
            {"id": "yte", "name": "Y tế", "agency": AGENCY_B, "security_level": 2, "hosts": ["web01-cov"]},
        ):
            assert (await admin.post("/api/v1/systems", json=system)).status_code == 201

    t0 = datetime.now(UTC).replace(microsecond=0)
    await store(
        settings,
        [
            event("e1", AGENCY_A, "syslog-a", "web01-cov", "authentication", t0 - timedelta(minutes=5)),
            event("e2", AGENCY_A, "fw-a", "fw01", "network", t0 - timedelta(minutes=5)),
            {
                **event("e3", AGENCY_A, "syslog-a", "pc7", "authentication", t0 - timedelta(minutes=5)),
                "host": {"name": "pc7", "ip": ["10.9.0.7"]},
            },
            # same host name in agency B: never counts for agency A's portal
            event("e4", AGENCY_B, "syslog-b", "web01-cov", "network", t0 - timedelta(minutes=1)),
        ],
    )
    policy = PolicyFile(settings.compliance.policy_file).current()
    publisher_a, publisher_b = AlertPublisher(settings.kafka), AlertPublisher(settings.kafka)
    client_a = make_client(settings.opensearch, component="api")
    client_b = make_client(settings.opensearch, component="api")
    stop = asyncio.Event()
    indexer = AlertIndexerStage(settings.kafka, settings.opensearch, settings.pipeline, Metrics())
    task = asyncio.create_task(indexer.run(stop))
    try:

        async def both(now: datetime) -> list[dict[str, Any]]:
            """Two API replicas run the same round at the same moment."""
            a, b = await asyncio.gather(
                coverage_round(client_a, settings, policy, publisher_a.publish, now),
                coverage_round(client_b, settings, policy, publisher_b.publish, now),
            )
            return a + b

        assert await both(t0) == []  # everything required arrives
        async with api.client("agency_viewer") as scoped:  # agency A
            listed = (await scoped.get("/api/v1/compliance/coverage")).json()["items"]
        assert [s["system_id"] for s in listed] == ["office", "portal"]
        portal = {c["category"]: c for c in listed[1]["categories"]}
        assert portal["network"]["status"] == "ok" and portal["authentication"]["status"] == "ok"
        assert portal["web"]["status"] == "not_required"
        assert {c["category"]: c["status"] for c in listed[0]["categories"]}["authentication"] == "ok"

        # Two hours later authentication still arrives everywhere; the portal's firewall went quiet.
        later = t0 + timedelta(hours=2)
        await store(
            settings,
            [
                event("e5", AGENCY_A, "syslog-a", "WEB01-COV", "authentication", later - timedelta(minutes=10)),
                {
                    **event("e6", AGENCY_A, "syslog-a", "pc7", "authentication", later - timedelta(minutes=10)),
                    "host": {"name": "pc7", "ip": ["10.9.0.7"]},
                },
                event("e7", AGENCY_B, "syslog-b", "web01-cov", "authentication", later - timedelta(minutes=10)),
                event("e8", AGENCY_B, "syslog-b", "web01-cov", "network", later - timedelta(minutes=10)),
            ],
        )
        raised = await both(later)
        assert [(a["event"]["canhgac"]["system_id"], a["event"]["canhgac"]["log_category"]) for a in raised] == [
            ("portal", "network")
        ]
        alert = raised[0]
        assert alert["rule"]["id"] == COVERAGE_RULE_ID and alert["agency"] == AGENCY_A
        assert alert["event"]["canhgac"]["last_seen"] == iso(t0 - timedelta(minutes=5))  # missing since its last event
        assert await both(later + timedelta(minutes=1)) == []  # not raised again

        async def stored() -> dict[str, Any] | None:
            async with api.client("admin") as admin:
                found = await admin.get(f"/api/v1/alerts/{alert['id']}")
            return found.json() if found.status_code == 200 else None

        indexed = await eventually(stored, timeout_secs=60)
        assert indexed["system"]["id"] == "portal"  # placed on its system by the alert indexer

        async def listed_coverage() -> list[str] | None:  # a search: sees the alert after the index refreshes
            async with api.client("admin") as admin:
                items = (await admin.get("/api/v1/alerts", params={"rule_id": COVERAGE_RULE_ID})).json()["items"]
            ids = [a["id"] for a in items if a["rule"]["id"] == COVERAGE_RULE_ID]
            return ids or None

        assert await eventually(listed_coverage, timeout_secs=30) == [alert["id"]]

        async with api.client("agency_viewer") as scoped:
            portal_now = (await scoped.get("/api/v1/compliance/coverage/portal")).json()
            assert portal_now["missing"] == ["network"]
            assert portal_now["open_alerts"] == [
                {"alert_id": alert["id"], "category": "network", "missing_since": iso(t0 - timedelta(minutes=5))}
            ]
            assert (await scoped.get("/api/v1/compliance/coverage/yte")).status_code == 404  # agency B's
            policy_view = (await scoped.get("/api/v1/compliance/policy")).json()
            assert policy_view["levels"][1] == {
                "level": 2,
                "requires": ["authentication", "network"],
                "missing_after_secs": 3600,
                "note": None,
            }

        # The firewall sends again: the alert is cleared, once.
        back = later + timedelta(minutes=20)
        await store(settings, [event("e9", AGENCY_A, "fw-a", "fw01", "network", back - timedelta(minutes=1))])
        cleared = await both(back)
        assert [(a["id"], a["cleared_at"]) for a in cleared] == [(alert["id"], iso(back))]

        async def cleared_in_index() -> bool:
            doc = await stored()
            return bool(doc and doc.get("cleared_at"))

        await eventually(cleared_in_index, timeout_secs=60)
        async with api.client("agency_viewer") as scoped:
            assert (await scoped.get("/api/v1/compliance/coverage/portal")).json()["missing"] == []
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        for closing in (publisher_a.close(), publisher_b.close(), client_a.close(), client_b.close()):
            await closing
