"""Syslog lines in over TCP -> real Kafka -> real OpenSearch -> found through the API, exactly
once each, and the alert a bundled rule raised on them."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from canhgac.api.users.models import UserCreate

from canhgac.cmd_users import create_user
from canhgac.demo_feed import send_lines
from canhgac.runtime import Runtime
from tests.conftest import eventually

SSH_FAILED_RULE = "06888d57-bcd1-55d5-82b9-261400ea7dfe"  # rules/packs/province/ssh_failed_password.yml

pytestmark = pytest.mark.e2e
PASSWORD = "e2e password, long enough"


async def collect_all_events(api: httpx.AsyncClient) -> list[dict]:
    items: list[dict] = []
    body: dict = {"query": "*", "size": 500}
    while True:
        response = await api.post("/api/v1/events/search", json=body)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        if not page["next"]:
            return items
        body = {"query": "*", "size": 500, "cursor": page["next"]}


async def test_syslog_lines_land_once_each_and_raise_an_alert(test_settings, run_id: str) -> None:
    runtime = Runtime(test_settings)
    task = asyncio.create_task(runtime.run())
    await asyncio.wait_for(runtime.started.wait(), 120)
    try:
        assert runtime.collector is not None and runtime.collector.port
        n_ok, n_failed = 600, 6
        ok_lines = [
            f"<38>Nov 26 10:{i // 60 % 60:02d}:{i % 60:02d} tthdl-app01 sshd[{1000 + i}]: "
            f"Accepted publickey for staff{i % 7} from 10.20.1.{i % 250} port {40000 + i} ssh2 seq={i}"
            for i in range(n_ok)
        ]
        failed_lines = [
            f"<38>1 2026-11-26T03:10:{i:02d}.000Z tthdl-app01 sshd {3000 + i} - - "
            f"Failed password for root from 203.0.113.66 port {50000 + i} ssh2 seq={n_ok + i}"
            for i in range(n_failed)
        ]
        # Half newline-framed, half octet-counted, over two connections.
        await send_lines("127.0.0.1", runtime.collector.port, ok_lines[:300])
        await send_lines("127.0.0.1", runtime.collector.port, ok_lines[300:] + failed_lines, octet_counting=True)

        base = f"http://127.0.0.1:{test_settings.api.port}"
        await create_user(test_settings, UserCreate(username="e2e", role="analyst", password=PASSWORD))
        async with httpx.AsyncClient(base_url=base, timeout=30) as anonymous:
            assert (await anonymous.get("/api/v1/alerts")).status_code == 401
            login = await anonymous.post("/api/v1/auth/token", json={"username": "e2e", "password": PASSWORD})
            token = login.json()["token"]
        async with httpx.AsyncClient(base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"}) as api:
            total = n_ok + n_failed

            async def all_indexed() -> list[dict] | None:
                events = await collect_all_events(api)
                return events if len(events) >= total else None

            events = await eventually(all_indexed, timeout_secs=90)
            # Give a duplicate, if the pipeline made one, time to show up.
            await asyncio.sleep(2)
            events = await collect_all_events(api)
            seqs = Counter(int(e["message"].rsplit("seq=", 1)[1]) for e in events)
            assert len(events) == total
            assert set(seqs) == set(range(total)) and max(seqs.values()) == 1
            assert len({e["event"]["id"] for e in events}) == total
            sample = next(e for e in events if e["message"].endswith("seq=5"))
            assert sample["canhgac"]["source_id"] == "syslog-default"
            assert sample["canhgac"]["agency"] == "so-tttt"
            assert sample["host"]["hostname"] == "tthdl-app01"

            async def alert_raised() -> list[dict] | None:
                page = (await api.get("/api/v1/alerts", params={"rule_id": SSH_FAILED_RULE})).json()
                return page["items"] if page["items"] and page["items"][0]["count"] >= n_failed else None

            alerts = await eventually(alert_raised, timeout_secs=60)
            assert len(alerts) == 1
            alert = alerts[0]
            assert alert["count"] == n_failed
            assert alert["rule"]["title"] == "SSH password authentication failed"
            assert alert["rule"]["author"] == "Canhgac SOC"
            assert alert["severity"] == "low"
            assert alert["status"] == "new"
            detail = (await api.get(f"/api/v1/alerts/{alert['id']}")).json()
            assert detail["id"] == alert["id"] and len(detail["event_ids"]) == n_failed
            assert (await api.get("/api/v1/alerts/does-not-exist")).status_code == 404

            metrics = (await api.get("/metrics")).text
            assert 'canhgac_events_received_total{collector="syslog-tcp"} 606.0' in metrics
            ready = await api.get("/readyz")
            assert ready.status_code == 200 and ready.json() == {"kafka": "ok", "opensearch": "ok"}
    finally:
        runtime.request_stop()
        await asyncio.wait_for(task, 60)
