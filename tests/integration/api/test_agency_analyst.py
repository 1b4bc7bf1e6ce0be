"""Agency self-service (issue 16, item 4): an agency analyst triages its own agency's alerts and
cases and nobody else's, and asks for exceptions that apply in the detector only once a SOC
analyst approves them. Real OpenSearch: the API's indices and the detector's config reader."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson
import pytest
from canhgac.core.metrics import Metrics
from canhgac.pipeline.detector import DetectorStage

from tests.conftest import eventually
from tests.integration.api.conftest import AGENCY_A, AGENCY_B
from tests.integration.test_correlator_replicas import read_all

pytestmark = pytest.mark.integration

FAILED_PASSWORD = "06888d57-bcd1-55d5-82b9-261400ea7dfe"  # bundled: SSH password authentication failed


async def audit_actions(api, target_id: str, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    """The target's audit actions once `count` of them are searchable (within a refresh)."""
    found: list[str] = []
    async with api.client("admin") as admin:
        for _ in range(60):
            items = (await admin.get("/api/v1/audit", params={"target_id": target_id})).json()["items"]
            found = sorted(a["action"] for a in items)
            if len(found) >= count:
                break
            await asyncio.sleep(0.25)
    return found


async def test_agency_analyst_triages_only_its_own_alerts_and_cases(api) -> None:  # type: ignore[no-untyped-def]
    async with api.client("agency_analyst") as own, api.client("analyst") as soc:
        # Its own alert: acknowledge (stops escalation), comment, close.
        ack = await own.post(f"/api/v1/alerts/{api.alert_a}/status", json={"status": "acknowledged"})
        assert ack.status_code == 200, ack.text
        assert (await own.post(f"/api/v1/alerts/{api.alert_a}/comments", json={"text": "our admin"})).status_code == 200
        closed = await own.post(
            f"/api/v1/alerts/{api.alert_a}/status",
            json={"status": "closed", "resolution": "false_positive", "comment": "planned maintenance"},
        )
        assert closed.status_code == 200, closed.text
        assert closed.json()["status"] == "closed"
        # Another agency's alert does not exist for it, one by one or in bulk; nor may it assign.
        for path, body in (
            ("status", {"status": "acknowledged"}),
            ("comments", {"text": "x"}),
        ):
            assert (await own.post(f"/api/v1/alerts/{api.alert_b}/{path}", json=body)).status_code == 404
        bulk = (await own.post("/api/v1/alerts/bulk", json={"ids": [api.alert_b], "comment": "x"})).json()
        assert bulk["updated"] == [] and api.alert_b in bulk["failed"]
        assert (
            await own.post(f"/api/v1/alerts/{api.alert_a}/assignee", json={"assignee": "analyst"})
        ).status_code == 403
        assert (await soc.get(f"/api/v1/alerts/{api.alert_b}")).json()["status"] == "new"  # untouched

        # The acknowledgement went to the alerts topic, as a SOC analyst's does: the notifier stops
        # the alert's escalation when it reads a status other than `new`.
        async def published() -> list[str]:
            records = await read_all(api.settings, api.settings.kafka.topics.alerts, "alert_indexer")
            return [a["status"] for a in map(orjson.loads, (r.value for r in records)) if a["id"] == api.alert_a]

        assert "acknowledged" in await eventually(published, timeout_secs=30)

        # Cases: the SOC opens them; the agency moves its own case's status and comments on it.
        case_a = (await soc.post("/api/v1/cases", json={"alert_ids": [api.alert_a]})).json()
        case_b = (await soc.post("/api/v1/cases", json={"alert_ids": [api.alert_b]})).json()
        assert (await own.post("/api/v1/cases", json={"alert_ids": [api.alert_a]})).status_code == 403
        assert (await own.post(f"/api/v1/cases/{case_a['id']}/comments", json={"text": "ok"})).status_code == 200
        moved = await own.post(f"/api/v1/cases/{case_a['id']}/status", json={"status": "closed", "comment": "done"})
        assert moved.status_code == 200, moved.text
        assert moved.json()["status"] == "closed"
        assert (await own.patch(f"/api/v1/cases/{case_a['id']}", json={"title": "x"})).status_code == 403
        assert (await own.post(f"/api/v1/cases/{case_b['id']}/comments", json={"text": "x"})).status_code == 404
        assert (await own.post(f"/api/v1/cases/{case_b['id']}/status", json={"status": "closed"})).status_code == 404
    assert await audit_actions(api, api.alert_a, 3) == ["alert.comment", "alert.status", "alert.status"]


async def test_exception_request_applies_only_once_approved(api) -> None:  # type: ignore[no-untyped-def]
    def request_body(reason: str, address: str) -> dict:
        return {
            "rule_id": FAILED_PASSWORD,
            "reason": reason,
            "conditions": [{"field": "source.ip", "op": "equals", "value": address}],
        }

    async with api.client("agency_analyst") as own, api.client("analyst") as soc, api.client("agency_viewer") as ro:
        approved = await own.post("/api/v1/exceptions/requests", json=request_body("our scanner", "10.1.1.1"))
        assert approved.status_code == 201, approved.text
        rejected = (await own.post("/api/v1/exceptions/requests", json=request_body("too broad", "10.2.2.2"))).json()
        approved = approved.json()
        assert approved["state"] == "requested" and approved["active"] is False and approved["agency"] == AGENCY_A
        assert {"field": "canhgac.agency", "op": "equals", "value": AGENCY_A} in approved["conditions"]
        assert (await ro.post("/api/v1/exceptions/requests", json=request_body("x", "10.3.3.3"))).status_code == 403
        assert (await own.post(f"/api/v1/exceptions/{approved['id']}/approve", json={})).status_code == 403

        pending = (await soc.get("/api/v1/exceptions/requests", params={"state": "requested"})).json()["items"]
        assert {p["id"] for p in pending} == {approved["id"], rejected["id"]}
        ok = await soc.post(f"/api/v1/exceptions/{approved['id']}/approve", json={"comment": "scanner known"})
        assert ok.status_code == 200 and ok.json()["active"] is True and ok.json()["decided_by"] == "analyst"
        no = await soc.post(f"/api/v1/exceptions/{rejected['id']}/reject", json={"comment": "too broad"})
        assert no.status_code == 200 and no.json()["state"] == "rejected" and no.json()["active"] is False
        assert (await soc.post(f"/api/v1/exceptions/{rejected['id']}/approve", json={})).status_code == 409
        mine = (await own.get("/api/v1/exceptions/requests")).json()["items"]
        assert {m["id"]: m["state"] for m in mine} == {approved["id"]: "approved", rejected["id"]: "rejected"}

    # The detector, reading the exceptions index as it does in production, applies the approved
    # request only, and only to the requesting agency's events.
    s = api.settings
    detector = DetectorStage(s.kafka, s.pipeline, s.rules, Metrics(), opensearch=s.opensearch)
    detector.reload_if_changed()
    assert detector.config_source is not None and detector.engine is not None
    await detector.config_source.start()
    try:
        await detector.refresh_config()
    finally:
        await detector.config_source.close()
    assert len(detector.config.exceptions) == 1

    def alerts_for(agency: str, address: str) -> list[str]:
        event = {
            "message": f"Failed password for root from {address} port 41000 ssh2",
            "source": {"ip": address},
            "canhgac": {"agency": agency, "logsource": {"product": "linux", "service": "sshd"}},
        }
        assert detector.engine is not None
        matched = detector.engine.match(event)
        kept = detector._not_excepted(matched, event, detector.config.exceptions, datetime.now(UTC))
        return [r.id for r in kept]

    assert FAILED_PASSWORD not in alerts_for(AGENCY_A, "10.1.1.1")  # approved: no longer alerts
    assert FAILED_PASSWORD in alerts_for(AGENCY_A, "10.2.2.2")  # rejected: still alerts
    assert FAILED_PASSWORD in alerts_for(AGENCY_B, "10.1.1.1")  # another agency's event: still alerts
    assert await audit_actions(api, approved["id"], 2) == ["exception.approve", "exception.request"]
    assert await audit_actions(api, rejected["id"], 2) == ["exception.reject", "exception.request"]
