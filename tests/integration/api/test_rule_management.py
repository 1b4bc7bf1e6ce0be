"""Rule exceptions, rule uploads, enable/disable, hit counts and backtests through the API, on the
real OpenSearch; every change audited."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.api.conftest import AGENCY_A, AGENCY_B, iso, make_alert

pytestmark = pytest.mark.integration

BUNDLED_RULE = "06888d57-bcd1-55d5-82b9-261400ea7dfe"  # SSH password authentication failed
UPLOADED_ID = "8d3b6a4e-51c2-4c1e-9a43-2f1b7e0c9d11"
UPLOAD = f"""
title: SSH login by a service account
id: {UPLOADED_ID}
author: SOC tester
logsource: {{product: linux, service: sshd}}
detection:
  sel: {{message|contains: 'Accepted password for svc_'}}
  condition: sel
level: medium
"""


async def audit_actions(api, target_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    await asyncio.sleep(1.1)  # the audit index refreshes every second
    async with api.client("admin") as admin:
        items = (await admin.get("/api/v1/audit", params={"target_id": target_id})).json()["items"]
    return [a["action"] for a in items]


async def test_exceptions_crud_validation_and_audit(api) -> None:  # type: ignore[no-untyped-def]
    body = {
        "rule_id": BUNDLED_RULE,
        "reason": "the vulnerability scanner logs in every night",
        "conditions": [
            {"field": "source.ip", "op": "cidr", "value": "10.9.0.0/16"},
            {"field": "user.name", "op": "in", "value": ["scanner", "nessus"]},
        ],
        "expires_at": iso(datetime.now(UTC) + timedelta(days=7)),
    }
    async with api.client("analyst") as analyst, api.client("viewer") as viewer:
        created = await analyst.post("/api/v1/exceptions", json=body)
        assert created.status_code == 201, created.text
        exc = created.json()
        assert exc["author"] == "analyst" and exc["active"] and exc["conditions"][1]["value"] == ["scanner", "nessus"]
        # Bad conditions are refused with the reason.
        for bad in (
            {"field": "source.ip", "op": "cidr", "value": "not-a-net"},
            {"field": "user.name", "op": "in", "value": "scanner"},
            {"field": "user.name", "op": "regex", "value": "x"},
        ):
            refused = await analyst.post("/api/v1/exceptions", json={**body, "conditions": [bad]})
            assert refused.status_code == 422, refused.text
        naive = await analyst.post("/api/v1/exceptions", json={**body, "expires_at": "2030-01-01T00:00:00"})
        assert naive.status_code == 422
        # An expired exception stays listed, inactive.
        expired = await analyst.post("/api/v1/exceptions", json={**body, "expires_at": "2020-01-01T00:00:00Z"})
        assert expired.status_code == 201 and expired.json()["active"] is False
        listed = (await viewer.get("/api/v1/exceptions")).json()["items"]
        assert {e["id"] for e in listed} == {exc["id"], expired.json()["id"]}
        assert (await viewer.get("/api/v1/exceptions", params={"rule_id": "other"})).json()["items"] == []
        updated = await analyst.patch(
            f"/api/v1/exceptions/{exc['id']}", json={"reason": "new scanner", "expires_at": None}
        )
        assert updated.status_code == 200
        assert updated.json()["reason"] == "new scanner" and updated.json()["expires_at"] is None
        assert updated.json()["conditions"] == exc["conditions"]
        assert (await analyst.delete(f"/api/v1/exceptions/{exc['id']}")).status_code == 204
        assert (await analyst.delete(f"/api/v1/exceptions/{exc['id']}")).status_code == 404
    async with api.client("agency_viewer") as scoped:
        assert (await scoped.get("/api/v1/exceptions")).status_code == 403
    assert sorted(await audit_actions(api, exc["id"])) == ["exception.create", "exception.delete", "exception.update"]


async def test_upload_enable_disable_and_hit_counts(api) -> None:  # type: ignore[no-untyped-def]
    os_client = api.app.state.canhgac.opensearch
    now = datetime.now(UTC)
    for alert_id, agency in (("hit-a", AGENCY_A), ("hit-b", AGENCY_B)):
        alert = make_alert(alert_id, agency, [], now)
        alert["rule"]["id"] = BUNDLED_RULE
        await os_client.index(index=api.settings.opensearch.alerts_index, id=alert_id, body=alert, refresh=True)
    async with api.client("admin") as admin:
        broken = await admin.post("/api/v1/rules", json={"yaml": UPLOAD.replace("condition: sel", "condition: nope")})
        assert broken.status_code == 400
        assert broken.json()["rejected"][0]["reason"] == "invalid condition", broken.json()
        two = await admin.post(
            "/api/v1/rules", json={"yaml": UPLOAD + "\n---\n" + UPLOAD.replace(UPLOADED_ID[:8], "9" * 8)}
        )
        assert two.status_code == 400 and "exactly one" in two.json()["detail"]
        taken = await admin.post("/api/v1/rules", json={"yaml": UPLOAD.replace(UPLOADED_ID, BUNDLED_RULE)})
        assert taken.status_code == 409 and "bundled" in taken.json()["detail"]

        up = await admin.post("/api/v1/rules", json={"yaml": UPLOAD})
        assert up.status_code == 201, up.text
        assert up.json()["source"] == "uploaded" and up.json()["enabled"] is True
        again = await admin.post("/api/v1/rules", json={"yaml": UPLOAD.replace("level: medium", "level: high")})
        assert again.status_code == 200 and again.json()["level"] == "high"

        assert (await admin.post(f"/api/v1/rules/{BUNDLED_RULE}/disable")).json() == {
            "id": BUNDLED_RULE,
            "enabled": False,
            "source": "bundled",
        }
        assert (await admin.post("/api/v1/rules/no-such-rule/disable")).status_code == 404
        rules = {r["id"]: r for r in (await admin.get("/api/v1/rules")).json()["items"]}
        assert rules[UPLOADED_ID]["source"] == "uploaded" and rules[UPLOADED_ID]["level"] == "high"
        assert rules[UPLOADED_ID]["enabled"] and rules[UPLOADED_ID]["author"] == "SOC tester"
        assert rules[BUNDLED_RULE]["enabled"] is False and rules[BUNDLED_RULE]["hits"] == 2
        assert (await admin.post(f"/api/v1/rules/{BUNDLED_RULE}/enable")).json()["enabled"] is True
        assert (await admin.delete(f"/api/v1/rules/{UPLOADED_ID}")).status_code == 204
        rules = {r["id"]: r for r in (await admin.get("/api/v1/rules")).json()["items"]}
        assert UPLOADED_ID not in rules and rules[BUNDLED_RULE]["enabled"] is True
    async with api.client("agency_viewer") as scoped:
        rules = {r["id"]: r for r in (await scoped.get("/api/v1/rules")).json()["items"]}
        assert rules[BUNDLED_RULE]["hits"] == 1  # its agency's alerts only
    assert sorted(await audit_actions(api, UPLOADED_ID)) == ["rule.delete", "rule.replace", "rule.upload"]
    assert sorted(await audit_actions(api, BUNDLED_RULE)) == ["rule.disable", "rule.enable"]


async def test_backtest(api) -> None:  # type: ignore[no-untyped-def]
    from canhgac.core.store import events_index, make_client

    # Events are written by the indexer's principal in production; the API's may only read them.
    os_client = make_client(api.settings.opensearch, component="admin")
    stream = events_index(api.settings.opensearch.index_prefix, "linux.auth")
    t0 = datetime.now(UTC) - timedelta(hours=1)
    for i, (agency, message) in enumerate(
        [
            (AGENCY_A, "Failed password for root from 203.0.113.9 port 22 ssh2"),
            (AGENCY_A, "FAILED PASSWORD for admin from 203.0.113.9 port 22 ssh2"),  # Sigma ignores case
            (AGENCY_B, "Failed password for root from 198.51.100.7 port 22 ssh2"),
            (AGENCY_A, "Accepted password for svc_backup from 10.0.0.5 port 22 ssh2"),
        ]
    ):
        await os_client.index(
            index=stream,
            op_type="create",
            refresh=True,
            body={
                "@timestamp": iso(t0 + timedelta(minutes=i)),
                "message": message,
                "event": {"id": f"bt-{i}", "dataset": "linux.auth"},
                "canhgac": {"agency": agency, "logsource": {"product": "linux", "service": "sshd"}},
            },
        )
    await os_client.close()
    window = {"start": iso(t0 - timedelta(minutes=1)), "end": iso(t0 + timedelta(minutes=10))}
    async with api.client("viewer") as viewer, api.client("agency_viewer") as scoped:
        by_id = await viewer.post("/api/v1/rules/backtest", json={"rule_id": BUNDLED_RULE, **window, "size": 2})
        assert by_id.status_code == 200, by_id.text
        result = by_id.json()
        assert result["total"] == 3 and [e["event"]["id"] for e in result["items"]] == ["bt-0", "bt-1"]
        assert result["rule"]["id"] == BUNDLED_RULE and "logsource" in result["queries"][0]
        mine = (await scoped.post("/api/v1/rules/backtest", json={"rule_id": BUNDLED_RULE, **window})).json()
        assert mine["total"] == 2 and {e["canhgac"]["agency"] for e in mine["items"]} == {AGENCY_A}
        pasted = (await viewer.post("/api/v1/rules/backtest", json={"yaml": UPLOAD, **window})).json()
        assert pasted["total"] == 1 and pasted["items"][0]["event"]["id"] == "bt-3"
        earlier = {"start": iso(t0 - timedelta(days=2)), "end": iso(t0 - timedelta(days=1))}
        assert (await viewer.post("/api/v1/rules/backtest", json={"rule_id": BUNDLED_RULE, **earlier})).json()[
            "total"
        ] == 0

        broken = await viewer.post(
            "/api/v1/rules/backtest", json={"yaml": UPLOAD.replace("condition: sel", "condition: x"), **window}
        )
        assert broken.status_code == 400, broken.text
        assert broken.json()["rejected"][0] | {"message": ""} == {
            "path": "<pasted>",
            "rule_id": UPLOADED_ID,
            "title": "SSH login by a service account",
            "reason": "invalid condition",
            "message": "",
        }
        correlation = await viewer.post(
            "/api/v1/rules/backtest",
            json={
                "yaml": """
title: many failures
id: 3f1b0a52-6d8e-4b1f-a4f7-9c2d5e8a7b10
correlation: {type: event_count, rules: [x], group-by: [user.name], timespan: 5m, condition: {gte: 5}}
""",
                **window,
            },
        )
        assert correlation.status_code == 400 and "correlation" in correlation.text, correlation.text
        too_long = {"start": "2025-01-01T00:00:00Z", "end": "2025-06-01T00:00:00Z"}
        refused = await viewer.post("/api/v1/rules/backtest", json={"rule_id": BUNDLED_RULE, **too_long})
        assert refused.status_code == 400 and "at most 31 days" in refused.json()["detail"]
        assert (await viewer.post("/api/v1/rules/backtest", json={"rule_id": "nope", **window})).status_code == 404
        both = await viewer.post("/api/v1/rules/backtest", json={"rule_id": BUNDLED_RULE, "yaml": UPLOAD, **window})
        assert both.status_code == 422
