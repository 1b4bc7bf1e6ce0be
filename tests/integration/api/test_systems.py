"""The information systems inventory on the real OpenSearch (API, roles, agency scope, CSV import,
audit), and alert priority: alerts through the real Kafka topic and alert indexer get their system
and `priority` = rule weight × system level × indicator confidence, and the queue sorts by it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from tests.conftest import eventually
from tests.integration.api.conftest import AGENCY_A, AGENCY_B

pytestmark = pytest.mark.integration

PORTAL = {
    "id": "cong-dvc",
    "name": "Cổng Dịch vụ công tỉnh",
    "agency": AGENCY_A,
    "security_level": 4,
    "criticality": "high",
    "hosts": ["Portal01", "10.0.5.10"],
    "sources": ["portal-nginx"],
    "contacts": [{"name": "Nguyễn Văn An", "email": "an@stttt.gov.vn", "phone": "0912 345 678", "role": "quản trị"}],
}

CSV = """\ufeffid,name,agency,security_level,criticality,hosts,sources,contacts,description
db-tinh,CSDL dùng chung,so-tttt,5,vital,db01;db02,,Trần Thị Bình|binh@stttt.gov.vn||DBA,cơ sở dữ liệu
test-vm,Máy thử nghiệm,so-tttt,1,low,testvm01,,,
his-bv,HIS bệnh viện,so-yte,3,high,his01,his-syslog,,
"""


async def test_inventory_api_scope_import_and_audit(api) -> None:  # type: ignore[no-untyped-def]
    async with api.client("admin") as admin:
        created = await admin.post("/api/v1/systems", json=PORTAL)
        assert created.status_code == 201, created.text
        assert created.json()["hosts"] == ["portal01", "10.0.5.10"] and created.json()["created_by"] == "admin"
        assert (await admin.post("/api/v1/systems", json=PORTAL)).status_code == 409
        for bad in ({"security_level": 6}, {"criticality": "extreme"}, {"sources": ["Bad Id"]}, {"owner": "x"}):
            assert (await admin.post("/api/v1/systems", json={**PORTAL, "id": "other", **bad})).status_code == 422, bad

        refused = await admin.post(
            "/api/v1/systems/import",
            content="id,name,agency,security_level\nok,OK,so-tttt,2\nbad,Bad,so-tttt,9\nok,Again,so-tttt,1\n",
            headers={"content-type": "text/csv"},
        )
        assert refused.status_code == 400
        assert [p["line"] for p in refused.json()["problems"]] == [3, 4]
        assert (await admin.get("/api/v1/systems/ok")).status_code == 404  # nothing half-imported

        imported = await admin.post(
            "/api/v1/systems/import", content=CSV.encode(), headers={"content-type": "text/csv"}
        )
        assert imported.status_code == 200, imported.text
        assert imported.json() == {"created": ["db-tinh", "test-vm", "his-bv"], "updated": []}
        db = (await admin.get("/api/v1/systems/db-tinh")).json()
        assert db["security_level"] == 5 and db["criticality"] == "vital" and db["hosts"] == ["db01", "db02"]
        assert db["contacts"] == [{"name": "Trần Thị Bình", "email": "binh@stttt.gov.vn", "phone": None, "role": "DBA"}]

        patched = await admin.patch("/api/v1/systems/test-vm", json={"security_level": 2, "hosts": ["TestVM01"]})
        assert patched.status_code == 200 and patched.json()["security_level"] == 2
        assert (await admin.get("/api/v1/systems", params={"security_level": 2})).json()["items"][0]["id"] == "test-vm"
        assert (await admin.delete("/api/v1/systems/his-bv")).status_code == 204
        assert (await admin.get("/api/v1/systems/his-bv")).status_code == 404

    async with api.client("agency_viewer") as scoped:  # agency A
        assert {s["id"] for s in (await scoped.get("/api/v1/systems")).json()["items"]} == {
            "cong-dvc",
            "db-tinh",
            "test-vm",
        }
        assert (await scoped.post("/api/v1/systems", json={**PORTAL, "id": "mine"})).status_code == 403
    async with api.client("admin") as admin:
        await admin.post("/api/v1/systems", json={**PORTAL, "id": "yte-portal", "agency": AGENCY_B})
    async with api.client("agency_viewer") as scoped:
        assert (await scoped.get("/api/v1/systems/yte-portal")).status_code == 404

    await asyncio.sleep(1.1)
    async with api.client("admin") as admin:
        audit = (await admin.get("/api/v1/audit", params={"action": "system.import"})).json()["items"]
        assert [a["details"]["created"] for a in audit] == [["db-tinh", "test-vm", "his-bv"]]
        actions = {a["action"] for a in (await admin.get("/api/v1/audit")).json()["items"]}
        assert {"system.create", "system.update", "system.delete", "system.import"} <= actions


def alert(rule_level: str, agency: str, host: str, source_id: str, confidence: int | None = None) -> dict[str, Any]:
    from canhgac.core.alert import AlertRule, IndicatorInfo, alert_id, build_alert

    now = datetime.now(UTC)
    rule = AlertRule(id=f"rule-{rule_level}", title=f"{rule_level} rule", level=rule_level, author="test")
    indicator = (
        IndicatorInfo(id="ioc-1", type="ip", value="203.0.113.9", feed="test-feed", confidence=confidence)
        if confidence is not None
        else None
    )
    return build_alert(
        alert_id=alert_id(rule.id, agency, {"host": host}, "w"),
        rule=rule,
        agency=agency,
        created_by="test",
        first_seen=now,
        last_seen=now,
        count=1,
        snapshot={"host": {"name": host}, "canhgac": {"source_id": source_id, "agency": agency}},
        indicator=indicator,
    ).to_document()


async def test_alert_priority_from_rule_level_system_level_and_confidence(api) -> None:  # type: ignore[no-untyped-def]
    from canhgac.core.kafka import make_producer
    from canhgac.core.metrics import Metrics
    from canhgac.pipeline.alert_indexer import AlertIndexerStage

    settings = api.settings
    async with api.client("admin") as admin:
        assert (await admin.post("/api/v1/systems", json=PORTAL)).status_code == 201
        for system in (
            {"id": "db-tinh", "name": "CSDL", "agency": AGENCY_A, "security_level": 5, "hosts": ["db01"]},
            {"id": "test-vm", "name": "Thử", "agency": AGENCY_A, "security_level": 1, "hosts": ["testvm01"]},
            # Same host name in another agency: never lends its level to agency A's alerts.
            {"id": "yte-db", "name": "Y tế", "agency": AGENCY_B, "security_level": 5, "hosts": ["web07"]},
        ):
            assert (await admin.post("/api/v1/systems", json=system)).status_code == 201

    alerts = {
        "critical-db": alert("critical", AGENCY_A, "DB01", "syslog-a"),  # 5 × 5 = 25 (host, any case)
        "high-portal": alert("high", AGENCY_A, "unlisted", "portal-nginx"),  # 4 × 4 = 16 (source)
        "medium-unknown": alert("medium", AGENCY_A, "web07", "syslog-a"),  # 3 × 3 (default) = 9
        "critical-test": alert("critical", AGENCY_A, "testvm01", "syslog-a"),  # 5 × 1 = 5
        "ioc-db": alert("high", AGENCY_A, "db01", "syslog-a", confidence=50),  # 4 × 5 × 0.5 = 10
    }
    producer = make_producer(settings.kafka, component="detector", client_suffix="systems-test")
    await producer.start()
    try:
        for doc in alerts.values():
            await producer.send_and_wait(settings.kafka.topics.alerts, orjson.dumps(doc), key=doc["id"].encode())
    finally:
        await producer.stop()

    stop = asyncio.Event()
    stage = AlertIndexerStage(settings.kafka, settings.opensearch, settings.pipeline, Metrics())
    task = asyncio.create_task(stage.run(stop))
    try:

        async def indexed() -> list[dict[str, Any]] | None:
            async with api.client("admin") as admin:
                resp = await admin.get("/api/v1/alerts", params={"sort": "priority", "order": "desc", "size": 50})
            items = [a for a in resp.json()["items"] if a["id"] in {d["id"] for d in alerts.values()}]
            return items if len(items) == len(alerts) else None

        ranked = await eventually(indexed, timeout_secs=60)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    by_id = {d["id"]: name for name, d in alerts.items()}
    assert [(by_id[a["id"]], a["priority"]) for a in ranked] == [
        ("critical-db", 25.0),
        ("high-portal", 16.0),
        ("ioc-db", 10.0),
        ("medium-unknown", 9.0),
        ("critical-test", 5.0),
    ]
    systems = {by_id[a["id"]]: (a.get("system") or {}).get("id") for a in ranked}
    assert systems == {
        "critical-db": "db-tinh",
        "high-portal": "cong-dvc",
        "ioc-db": "db-tinh",
        "medium-unknown": None,
        "critical-test": "test-vm",
    }

    # The inventory changes: open alerts are re-ranked at once, closed ones are left as they were.
    critical_db = alerts["critical-db"]["id"]
    async with api.client("admin") as admin:
        closed = await admin.post(
            f"/api/v1/alerts/{alerts['critical-test']['id']}/status",
            json={"status": "closed", "resolution": "benign"},
        )
        assert closed.status_code == 200, closed.text
        assert (await admin.patch("/api/v1/systems/test-vm", json={"security_level": 4})).status_code == 200
        assert (await admin.delete("/api/v1/systems/db-tinh")).status_code == 204
        after = {a["id"]: a for a in (await admin.get("/api/v1/alerts", params={"size": 50})).json()["items"]}
    assert (after[critical_db]["priority"], after[critical_db]["system"]) == (15.0, None)  # 5 × default 3
    assert after[alerts["ioc-db"]["id"]]["priority"] == 6.0  # 4 × 3 × 0.5
    assert after[alerts["critical-test"]["id"]]["priority"] == 5.0  # closed: unchanged
    assert after[alerts["high-portal"]["id"]]["priority"] == 16.0
