"""Retention of closed alerts and of the audit log on the real OpenSearch: old closed alerts go,
open ones stay; old audit records leave their chain through an `audit.pruned` record, so
`canhgac audit verify` still passes, and a record deleted by hand at the new start is still caught."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.api.conftest import AGENCY_A, make_alert
from tests.integration.api.test_audit_chain import verify_cli

pytestmark = pytest.mark.integration


async def test_closed_alerts_past_retention_go_open_ones_stay(api) -> None:  # type: ignore[no-untyped-def]
    from canhgac.api.retention import prune_alerts

    client = api.app.state.canhgac.opensearch
    index = api.settings.opensearch.alerts_index
    old = datetime.now(UTC) - timedelta(days=400)
    for alert_id, status, seen in (
        ("old-closed", "closed", old),
        ("old-open", "in_progress", old),
        ("new-closed", "closed", datetime.now(UTC)),
    ):
        await client.index(index=index, id=alert_id, body=make_alert(alert_id, AGENCY_A, ["e"], seen, status=status))
    await client.indices.refresh(index=index)
    assert await prune_alerts(client, index, 365, datetime.now(UTC)) == 1
    left = {h["_id"] for h in (await client.search(index=index, body={"size": 100}))["hits"]["hits"]}
    assert "old-closed" not in left and {"old-open", "new-closed", "alert-a", "alert-b"} <= left


async def test_audit_retention_keeps_the_chain_verifiable(api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from canhgac.api.audit.chain import append, record_id
    from canhgac.api.retention import prune_audit

    client = api.app.state.canhgac.opensearch
    settings = api.settings
    index = settings.opensearch.audit_index
    now = datetime.now(UTC)
    for n in range(6):  # a tenant of its own: four records past retention, two recent
        at = now - timedelta(days=500 - n) if n < 4 else now
        body = {
            "@timestamp": at.isoformat().replace("+00:00", "Z"),
            "actor": {"username": "lan"},
            "action": "alert.status",
            "outcome": "success",
            "target": {"type": "alert", "id": f"a{n}"},
            "client": {"ip": None},
            "details": {"n": n},
        }
        await append(client, index, "so-cu", body)

    removed = await prune_audit(client, index, 365, now)
    assert removed["so-cu"] == 4
    ok = verify_cli(settings, tmp_path, "--tenant", "so-cu")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "so-cu: ok, 3 records, head seq 7" in ok.stdout  # 5, 6 and the audit.pruned record

    await client.delete(index=index, id=record_id("so-cu", 5), refresh=True)
    broken = verify_cli(settings, tmp_path, "--tenant", "so-cu")
    assert broken.returncode == 1 and "missing at seq 1" in broken.stdout


async def test_case_retention_prunes_only_closed_cases_past_the_limit(api) -> None:  # type: ignore[no-untyped-def]
    from canhgac.api.cases.service import cases_index, cases_pattern
    from canhgac.api.retention import prune_cases

    client = api.app.state.canhgac.opensearch
    cfg = api.settings.opensearch
    now = datetime.now(UTC)
    old = (now - timedelta(days=400)).isoformat()
    for tenant, case_id, status, updated in (
        (AGENCY_A, "old-closed", "closed", old),
        ("soc", "old-closed-soc", "closed", old),
        (AGENCY_A, "old-investigating", "investigating", old),
        (AGENCY_A, "recent-closed", "closed", (now - timedelta(days=30)).isoformat()),
    ):
        body = {"id": case_id, "tenant": tenant, "status": status, "updated_at": updated, "created_at": old}
        await client.index(index=cases_index(cfg, tenant), id=case_id, body=body, refresh=True)
    assert await prune_cases(client, cases_pattern(cfg), 365, now) == 2
    await client.indices.refresh(index=cases_pattern(cfg))
    left = {h["_id"] for h in (await client.search(index=cases_pattern(cfg), body={"size": 100}))["hits"]["hits"]}
    assert left == {"old-investigating", "recent-closed"}
