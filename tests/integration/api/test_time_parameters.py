"""Every read endpoint that takes a time range answers 200 or 400 for naive and aware times, never
500 (issue 10, finding 8): a time without a zone is refused with a reason, as backtests do."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.api.conftest import Api

pytestmark = pytest.mark.integration
NAIVE, AWARE, AWARE_LATER = "2026-01-01T00:00:00", "2026-01-01T00:00:00+07:00", "2026-01-02T00:00:00Z"

# (method, path, extra body) for every read endpoint with a start/end.
ENDPOINTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/api/v1/alerts", {}),
    ("POST", "/api/v1/alerts/search", {"query": "*"}),
    ("POST", "/api/v1/alerts/histogram", {}),
    ("POST", "/api/v1/alerts/top", {"field": "host.name"}),
    ("POST", "/api/v1/events/search", {"query": "*"}),
    ("POST", "/api/v1/events/histogram", {}),
    ("POST", "/api/v1/events/top", {"field": "host.name"}),
    ("GET", "/api/v1/dashboard", {}),
    ("GET", "/api/v1/audit", {}),
    ("POST", "/api/v1/rules/backtest", {"rule_id": "06888d57-bcd1-55d5-82b9-261400ea7dfe"}),
]
COMBINATIONS = [
    ({"start": NAIVE, "end": AWARE_LATER}, 400),
    ({"start": AWARE, "end": NAIVE}, 400),
    ({"start": NAIVE}, 400),
    ({"end": NAIVE}, 400),
    ({"start": NAIVE, "end": "2026-01-02T00:00:00"}, 400),
    ({"start": AWARE, "end": AWARE_LATER}, 200),
]


async def test_naive_and_aware_times_never_give_500(api: Api) -> None:
    outcomes: dict[str, tuple[int, int]] = {}
    transport = httpx.ASGITransport(app=api.app, raise_app_exceptions=False)  # a crash is a 500 here
    headers = {"Authorization": f"Bearer {api.tokens['admin']}"}
    async with httpx.AsyncClient(transport=transport, base_url=api.base_url, headers=headers, timeout=30) as admin:
        for method, path, extra in ENDPOINTS:
            for times, expected in COMBINATIONS:
                if path.endswith("/backtest") and set(times) != {"start", "end"}:
                    continue  # a backtest always names both ends
                if method == "GET":
                    resp = await admin.get(path, params=times)
                else:
                    resp = await admin.post(path, json={**extra, **times})
                outcomes[f"{method} {path} {times}"] = (resp.status_code, expected)
                if resp.status_code == 400 and expected == 400:
                    assert "time zone" in resp.json()["detail"], resp.text
    wrong = {k: v for k, v in outcomes.items() if v[0] != v[1]}
    assert not wrong, wrong
