"""Correlation backtests through the API on the real OpenSearch: the base rules' stored matches run
through the detector's windowing code (a bundled rule by id, and a pasted correlation with its
pasted base rule; a base rule naming a watch list, expanded as the list is stored)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.api.conftest import AGENCY_A, AGENCY_B, iso

pytestmark = pytest.mark.integration

BRUTEFORCE_FROM_ADDRESS = "cb77d93d-ea7a-4cae-8928-ed00f5f1f8a6"  # >= 20 sshd failures per source.ip in 5m
PASTED = """
title: root failures
id: 5c0e4b1a-2f7d-4e8a-9b61-0d3c2a1e4f50
name: root_failures
logsource: {product: linux, service: sshd}
detection:
  sel: {message|contains: 'Failed password for root'}
  condition: sel
---
title: three root failures from one address
id: 5c0e4b1a-2f7d-4e8a-9b61-0d3c2a1e4f51
correlation:
  type: event_count
  rules: [root_failures]
  group-by: [source.ip]
  timespan: 2m
  condition: {gte: 3}
"""


async def test_correlation_backtest(api) -> None:  # type: ignore[no-untyped-def]
    from canhgac.core.store import events_index, make_client

    os_client = make_client(api.settings.opensearch, component="admin")
    stream = events_index(api.settings.opensearch.index_prefix, "linux.auth")
    t0 = datetime.now(UTC) - timedelta(hours=2)
    attacks = [(AGENCY_A, "203.0.113.9", "root", i) for i in range(20)]  # one burst: fires
    attacks += [(AGENCY_A, "198.51.100.7", "admin", i * 60) for i in range(20)]  # 20 over 19 min: never 20 in 5m
    attacks += [(AGENCY_B, "192.0.2.4", "root", i) for i in range(20)]  # another agency's burst
    for n, (agency, address, user, secs) in enumerate(attacks):
        await os_client.index(
            index=stream,
            op_type="create",
            body={
                "@timestamp": iso(t0 + timedelta(seconds=secs)),
                "message": f"Failed password for {user} from {address} port {40000 + n} ssh2",
                "source": {"ip": address},
                "event": {
                    "id": f"cbt-{n}",
                    "dataset": "linux.auth",
                    "category": ["authentication"],
                    "outcome": "failure",
                },
                "canhgac": {"agency": agency, "logsource": {"product": "linux", "service": "sshd"}},
            },
        )
    await os_client.indices.refresh(index=stream)
    await os_client.close()
    window = {"start": iso(t0 - timedelta(minutes=1)), "end": iso(t0 + timedelta(minutes=30))}
    async with api.client("viewer") as viewer, api.client("agency_viewer") as scoped:
        response = await viewer.post("/api/v1/rules/backtest", json={"rule_id": BRUTEFORCE_FROM_ADDRESS, **window})
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["rule"]["id"] == BRUTEFORCE_FROM_ADDRESS and result["total"] == 60
        assert sorted(a["correlation"]["group"]["source.ip"] for a in result["correlations"]) == [
            "192.0.2.4",
            "203.0.113.9",
        ]
        assert {a["event_count"] for a in result["correlations"]} == {20}

        mine = (await scoped.post("/api/v1/rules/backtest", json={"rule_id": BRUTEFORCE_FROM_ADDRESS, **window})).json()
        assert [a["correlation"]["group"]["source.ip"] for a in mine["correlations"]] == ["203.0.113.9"]

        pasted_response = await viewer.post("/api/v1/rules/backtest", json={"yaml": PASTED, **window})
        assert pasted_response.status_code == 200, pasted_response.text
        pasted = pasted_response.json()
        assert pasted["rule"]["title"] == "three root failures from one address"
        assert pasted["total"] == 40  # the root failures only
        groups = sorted((a["correlation"]["group"]["source.ip"], a["event_count"]) for a in pasted["correlations"])
        assert groups == [("192.0.2.4", 20), ("203.0.113.9", 20)]


LIST_CORRELATION = """
title: failures from a watched address
id: 8d2e6f1a-4b3c-4d5e-9f60-7a8b9c0d1e2f
name: watched_failures
logsource: {product: linux, service: sshd}
detection:
  sel:
    source.ip|expand: '%list:burst-sources%'
    message|contains: 'Failed password'
  condition: sel
---
title: three failures from one watched address
id: 8d2e6f1a-4b3c-4d5e-9f60-7a8b9c0d1e30
correlation:
  type: event_count
  rules: [watched_failures]
  group-by: [source.ip]
  timespan: 2m
  condition: {gte: 3}
"""


async def test_correlation_backtest_expands_the_watch_list_of_its_base_rule(api) -> None:  # type: ignore[no-untyped-def]
    from tests.integration.api.test_intel_arrivals import store_events

    t0 = datetime.now(UTC) - timedelta(hours=1)
    events = [
        {
            "@timestamp": iso(t0 + timedelta(seconds=i)),
            "message": f"Failed password for root from {address} port {40000 + i} ssh2",
            "source": {"ip": address},
            "event": {"id": f"wl-{address}-{i}", "dataset": "linux.auth"},
            "canhgac": {"agency": AGENCY_A, "logsource": {"product": "linux", "service": "sshd"}},
        }
        for address in ("203.0.113.9", "198.51.100.7")  # inside the listed network; not listed
        for i in range(3)
    ]
    await store_events(api.settings, events)
    body = {"yaml": LIST_CORRELATION, "start": iso(t0 - timedelta(minutes=1)), "end": iso(t0 + timedelta(minutes=5))}
    async with api.client("admin") as admin:
        made = await admin.put("/api/v1/lists/burst-sources", json={"type": "ip", "values": ["203.0.113.0/24"]})
        assert made.status_code in (200, 201), made.text
        response = await admin.post("/api/v1/rules/backtest", json=body)
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["total"] == 3 and "203.0.113.0\\/24" in result["queries"][0], result
        found = [(a["correlation"]["group"]["source.ip"], a["event_count"]) for a in result["correlations"]]
        assert found == [("203.0.113.9", 3)], result["correlations"]

        # The list as stored when the backtest runs: emptied of the network, nothing is counted.
        edited = await admin.post("/api/v1/lists/burst-sources/values", json={"remove": ["203.0.113.0/24"]})
        assert edited.status_code == 200, edited.text
        again = (await admin.post("/api/v1/rules/backtest", json=body)).json()
        assert again["total"] == 0 and again["correlations"] == [], again
