"""The demo feed, as `canhgac run --demo` sends it: each agency from its own declared source
(address), through real Kafka and OpenSearch. The events carry their agency and source, each
agency gets its own alerts (the same attacker in the data centre and in the district is two
alerts), and each source has its own health record."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
from canhgac.core.store import make_client

from canhgac.demo_feed import DEMO_AGENCIES, send_demo, with_demo_sources
from canhgac.runtime import Runtime
from tests.conftest import eventually

pytestmark = pytest.mark.e2e

EXPECTED_ALERTS = {
    "tthdl": {"SSH password authentication failed", "SSH login as root accepted"},
    "vp-ubnd": {
        "SQL injection attempt against the public-service portal",
        "Path traversal attempt against the public-service portal",
        "Vulnerability scanner against the public-service portal",
    },
    "so-tttt": {
        "Office application starts a shell on an agency PC",
        "PowerShell with an encoded command",
        "Certutil used to download a file",
    },
    "ubnd-huyen-a": {"SSH password authentication failed"},
}


async def test_demo_agencies_send_from_their_own_sources_and_get_their_own_alerts(test_settings) -> None:
    settings = with_demo_sources(test_settings)
    stages = ("normalizer", "indexer", "detector", "alert-indexer", "source-health")
    runtime = Runtime(settings, stages=stages, api=False)
    task = asyncio.create_task(runtime.run())
    await asyncio.wait_for(runtime.started.wait(), 120)
    client = make_client(settings.opensearch, component="admin")
    try:
        assert runtime.collector is not None and runtime.collector.port
        sent = await send_demo("127.0.0.1", runtime.collector.port, seed=7)
        assert set(sent) == {a.agency for a in DEMO_AGENCIES}

        async def alerts_by_agency() -> dict[str, set[str]] | None:
            await client.indices.refresh(index=settings.opensearch.alerts_index, allow_no_indices=True)
            found = await client.search(
                index=settings.opensearch.alerts_index, body={"size": 200}, ignore_unavailable=True
            )
            titles: dict[str, set[str]] = defaultdict(set)
            for hit in found["hits"]["hits"]:
                titles[hit["_source"]["agency"]].add(hit["_source"]["rule"]["title"])
            done = all(expected <= titles.get(agency, set()) for agency, expected in EXPECTED_ALERTS.items())
            return dict(titles) if done else None

        titles = await eventually(alerts_by_agency, timeout_secs=90)
        # No agency sees another's attacks: the portal's alerts are the portal operator's only.
        assert not any("portal" in t for agency, ts in titles.items() if agency != "vp-ubnd" for t in ts)

        index = f"{settings.opensearch.index_prefix}.*"

        async def events() -> list[dict] | None:
            await client.indices.refresh(index=index, allow_no_indices=True)
            found = await client.search(index=index, body={"size": 500}, allow_no_indices=True)
            hits = [h["_source"] for h in found["hits"]["hits"]]
            return hits if len(hits) >= sum(sent.values()) else None

        stored = await eventually(events, timeout_secs=60)
        pairs = {(e["canhgac"]["agency"], e["canhgac"]["source_id"]) for e in stored}
        assert pairs == {(a.agency, a.source_id) for a in DEMO_AGENCIES}
        by_host = {e["host"]["hostname"]: e["canhgac"]["agency"] for e in stored if e.get("host", {}).get("hostname")}
        assert by_host["tthdl-app01"] == "tthdl" and by_host["ubndhuyen-motcua01"] == "ubnd-huyen-a"

        async def health() -> set[str] | None:
            await client.indices.refresh(index=settings.opensearch.sources_index, allow_no_indices=True)
            found = await client.search(
                index=settings.opensearch.sources_index, body={"size": 50}, ignore_unavailable=True
            )
            seen = {h["_id"] for h in found["hits"]["hits"] if h["_source"].get("events_total")}
            return seen if {a.source_id for a in DEMO_AGENCIES} <= seen else None

        await eventually(health, timeout_secs=60)
    finally:
        await client.close()
        runtime.request_stop()
        await asyncio.wait_for(task, 60)
