"""Correlation backtests through the API on the real OpenSearch: the base rules' stored matches run
through the detector's windowing code (a bundled rule by id, and a pasted correlation with its
pasted base rule)."""

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
