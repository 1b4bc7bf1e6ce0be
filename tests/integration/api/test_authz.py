"""Every route × every role (and no credentials), agency isolation through every route, cookie
flags, CSRF, security headers and the login rate limit."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from fastapi.routing import APIRoute

from tests.conftest import eventually
from tests.integration.api.conftest import AGENCY_A, PASSWORD

pytestmark = pytest.mark.integration

ROLES = ("admin", "analyst", "viewer", "agency_viewer", "agency_analyst")
READ = {r: 200 for r in ROLES}
# Another agency's report (api/reports): an agency user gets its own agency's only.
AGENCY_REFUSED = {"agency_viewer": 403, "agency_analyst": 403}
# The agency analyst triages its own agency's alerts (alert-a is its agency's).
TRIAGE = {"admin": 200, "analyst": 200, "viewer": 403, "agency_viewer": 403, "agency_analyst": 200}
ADMIN = {"admin": 200, "analyst": 403, "viewer": 403, "agency_viewer": 403, "agency_analyst": 403}
PUBLIC = {r: 200 for r in ROLES}
TUNING_READ = {"admin": 200, "analyst": 200, "viewer": 200, "agency_viewer": 403, "agency_analyst": 403}
TUNE = {"admin": 200, "analyst": 200, "viewer": 403, "agency_viewer": 403, "agency_analyst": 403}  # SOC analysts
# authorised, then not found
TUNE_MISSING = {"admin": 404, "analyst": 404, "viewer": 403, "agency_viewer": 403, "agency_analyst": 403}
# a case the agency analyst may work on is its own agency's: "no such case" for everyone who may triage
CASE_MISSING = {**TUNE_MISSING, "agency_analyst": 404}
BUNDLED_RULE = "06888d57-bcd1-55d5-82b9-261400ea7dfe"  # SSH password authentication failed

# (method, path template) -> (request kwargs factory, expected status per role). `None` for no auth.
RULE = """
title: Test rule
id: 5f0c1f9e-1d8a-4a7b-9d55-0a4f4c3c1a11
author: tester
logsource: {product: linux, service: sshd}
detection:
  sel: {message|contains: Failed password}
  condition: sel
level: low
"""
MATRIX: dict[tuple[str, str], tuple[dict, dict[str, int], int]] = {
    ("GET", "/healthz"): ({}, PUBLIC, 200),
    ("GET", "/readyz"): ({}, PUBLIC, 200),
    ("GET", "/metrics"): ({}, PUBLIC, 200),
    ("POST", "/api/v1/auth/login"): ({"json": {"username": "nobody", "password": "x"}}, {r: 401 for r in ROLES}, 401),
    ("POST", "/api/v1/auth/token"): ({"json": {"username": "nobody", "password": "x"}}, {r: 401 for r in ROLES}, 401),
    ("POST", "/api/v1/auth/logout"): ({}, {r: 204 for r in ROLES}, 401),
    ("POST", "/api/v1/auth/unlock"): ({"json": {"username": "viewer"}}, ADMIN, 401),
    ("GET", "/api/v1/auth/me"): ({}, READ, 401),
    ("GET", "/api/v1/alerts"): ({}, READ, 401),
    ("POST", "/api/v1/alerts/search"): ({"json": {"query": "*"}}, READ, 401),
    ("POST", "/api/v1/alerts/histogram"): ({"json": {}}, READ, 401),
    ("POST", "/api/v1/alerts/top"): ({"json": {"field": "host.name"}}, READ, 401),
    ("GET", "/api/v1/alerts/groups"): ({"params": {"by": "rule"}}, READ, 401),
    ("GET", "/api/v1/saved-views"): ({}, READ, 401),
    ("POST", "/api/v1/saved-views"): ({"json": {"name": "authz {role}", "filters": {}}}, {r: 201 for r in ROLES}, 401),
    ("DELETE", "/api/v1/saved-views/{view_id}"): ({}, {r: 404 for r in ROLES}, 401),
    ("GET", "/api/v1/alerts/stream"): ({}, READ, 401),
    ("POST", "/api/v1/alerts/bulk"): ({"json": {"ids": ["alert-a"], "comment": "bulk"}}, TRIAGE, 401),
    ("GET", "/api/v1/alerts/{alert_id}"): ({}, READ, 401),
    ("POST", "/api/v1/alerts/{alert_id}/status"): ({"json": {"status": "in_progress"}}, TRIAGE, 401),
    ("POST", "/api/v1/alerts/{alert_id}/assignee"): (
        {"json": {"assignee": "analyst"}},
        {**TRIAGE, "agency_analyst": 403},  # the SOC's queue: agencies do not assign
        401,
    ),
    ("POST", "/api/v1/alerts/{alert_id}/comments"): ({"json": {"text": "hi"}}, TRIAGE, 401),
    ("POST", "/api/v1/events/search"): ({"json": {"query": "*"}}, READ, 401),
    ("GET", "/api/v1/entities/{kind}/{value}"): ({}, READ, 401),
    ("POST", "/api/v1/events/histogram"): ({"json": {}}, READ, 401),
    ("POST", "/api/v1/events/top"): ({"json": {"field": "host.name"}}, READ, 401),
    ("POST", "/api/v1/events/export"): ({"json": {"query": "*", "format": "ndjson"}}, READ, 401),
    ("GET", "/api/v1/saved-searches"): ({}, READ, 401),
    ("POST", "/api/v1/saved-searches"): (
        {"json": {"name": "authz {role}", "query": "*"}},
        {r: 201 for r in ROLES},
        401,
    ),
    ("DELETE", "/api/v1/saved-searches/{search_id}"): ({}, {r: 404 for r in ROLES}, 401),
    ("GET", "/api/v1/dashboard"): ({}, READ, 401),
    ("GET", "/api/v1/rules"): ({}, READ, 401),
    ("GET", "/api/v1/rules/{rule_id}"): ({}, READ, 401),
    ("GET", "/api/v1/rules/{rule_id}/stats"): ({}, READ, 401),
    ("POST", "/api/v1/rules/validate"): ({"json": {"yaml": RULE}}, TUNE, 401),
    ("POST", "/api/v1/rules/test"): ({"json": {"yaml": RULE, "events": [{"message": "Failed password"}]}}, TUNE, 401),
    ("POST", "/api/v1/rules"): ({"json": {"yaml": RULE}}, {**ADMIN, "admin": 201}, 401),
    ("POST", "/api/v1/rules/backtest"): (
        {"json": {"yaml": RULE, "start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}},
        READ,
        401,
    ),
    ("POST", "/api/v1/rules/{rule_id}/enable"): ({}, ADMIN, 401),
    ("POST", "/api/v1/rules/{rule_id}/disable"): ({}, ADMIN, 401),
    ("DELETE", "/api/v1/rules/{rule_id}"): ({}, {**ADMIN, "admin": 404}, 401),  # bundled: not deletable
    ("GET", "/api/v1/exceptions"): ({}, TUNING_READ, 401),
    ("POST", "/api/v1/exceptions"): (
        {
            "json": {
                "rule_id": BUNDLED_RULE,
                "reason": "scanner {role}",
                "conditions": [{"field": "source.ip", "op": "cidr", "value": "192.0.2.0/24"}],
            }
        },
        {"admin": 201, "analyst": 201, "viewer": 403, "agency_viewer": 403, "agency_analyst": 403},
        401,
    ),
    ("PATCH", "/api/v1/exceptions/{exception_id}"): ({"json": {"reason": "x"}}, TUNE_MISSING, 401),
    ("DELETE", "/api/v1/exceptions/{exception_id}"): ({}, TUNE_MISSING, 401),
    # Agency requests: agency analysts ask (SOC staff create directly: 400), SOC analysts decide.
    ("GET", "/api/v1/exceptions/requests"): ({}, {**TUNING_READ, "agency_analyst": 200}, 401),
    ("POST", "/api/v1/exceptions/requests"): (
        {
            "json": {
                "rule_id": BUNDLED_RULE,
                "reason": "our scanner {role}",
                "conditions": [{"field": "source.ip", "op": "equals", "value": "192.0.2.9"}],
            }
        },
        {"admin": 400, "analyst": 403, "viewer": 403, "agency_viewer": 403, "agency_analyst": 201},
        401,
    ),
    ("POST", "/api/v1/exceptions/{exception_id}/approve"): ({"json": {}}, TUNE_MISSING, 401),
    ("POST", "/api/v1/exceptions/{exception_id}/reject"): ({"json": {}}, TUNE_MISSING, 401),
    ("GET", "/api/v1/sources"): ({}, READ, 401),
    ("POST", "/api/v1/sources"): ({"json": {"id": "src-{role}", "agency": "so-tttt"}}, {**ADMIN, "admin": 201}, 401),
    ("POST", "/api/v1/sources/{source_id}/key"): ({}, {**ADMIN, "admin": 404}, 401),
    ("PATCH", "/api/v1/sources/{source_id}"): ({"json": {"enabled": False}}, {**ADMIN, "admin": 404}, 401),
    ("DELETE", "/api/v1/sources/{source_id}"): ({}, {**ADMIN, "admin": 404}, 401),
    # onboarding reads (any reader, its agency's sources only): no such source for everyone
    ("POST", "/api/v1/sources/{source_id}/shipper-configs"): ({"json": {}}, {r: 404 for r in ROLES}, 401),
    ("GET", "/api/v1/sources/{source_id}/onboarding"): ({}, {r: 404 for r in ROLES}, 401),
    # Threat intel: indicators are tuning (analysts add them), feeds hold credentials (admins).
    ("GET", "/api/v1/intel/indicators"): ({}, TUNING_READ, 401),
    ("POST", "/api/v1/intel/indicators"): (
        {"json": {"type": "ipv4", "value": "198.51.100.77", "feed": "authz-{role}", "reason": "authz"}},
        {**TUNE, "admin": 201, "analyst": 201},
        401,
    ),
    ("GET", "/api/v1/intel/indicators/{indicator_id}"): (
        {},
        {**TUNING_READ, "admin": 404, "analyst": 404, "viewer": 404},
        401,
    ),
    ("POST", "/api/v1/intel/indicators/{indicator_id}/expire"): ({"json": {}}, TUNE_MISSING, 401),
    ("DELETE", "/api/v1/intel/indicators/{indicator_id}"): ({}, TUNE_MISSING, 401),
    ("POST", "/api/v1/intel/import"): (
        {"json": {"format": "plain", "content": "198.51.100.78", "feed": "authz-import-{role}", "type": "ipv4"}},
        TUNE,
        401,
    ),
    ("GET", "/api/v1/intel/feeds"): ({}, TUNING_READ, 401),
    ("POST", "/api/v1/intel/feeds"): (
        {"json": {"id": "authz-{role}", "kind": "misp", "url": "http://127.0.0.1:9/feed/", "enabled": False}},
        {**ADMIN, "admin": 201},
        401,
    ),
    ("PATCH", "/api/v1/intel/feeds/{feed_id}"): ({"json": {"enabled": False}}, {**ADMIN, "admin": 404}, 401),
    ("DELETE", "/api/v1/intel/feeds/{feed_id}"): ({}, {**ADMIN, "admin": 404}, 401),
    ("POST", "/api/v1/intel/feeds/{feed_id}/poll"): ({}, {**ADMIN, "admin": 404}, 401),
    # Retro-hunts: jobs are tuning (analysts start and cancel them; viewers watch them).
    ("GET", "/api/v1/retro-hunts"): ({}, TUNING_READ, 401),
    ("POST", "/api/v1/retro-hunts"): (
        {"json": {"indicator_ids": ["no-such-indicator"]}},
        {**TUNE_MISSING, "admin": 202, "analyst": 202},
        401,
    ),
    ("GET", "/api/v1/retro-hunts/{job_id}"): ({}, {**TUNING_READ, "admin": 404, "analyst": 404, "viewer": 404}, 401),
    ("POST", "/api/v1/retro-hunts/{job_id}/cancel"): ({}, TUNE_MISSING, 401),
    ("GET", "/api/v1/users"): ({}, ADMIN, 401),
    ("POST", "/api/v1/users"): (
        {"json": {"username": "u-{role}", "role": "viewer", "password": PASSWORD}},
        {**ADMIN, "admin": 201},
        401,
    ),
    ("PATCH", "/api/v1/users/{username}"): ({"json": {"display_name": "V"}}, ADMIN, 401),
    ("GET", "/api/v1/audit"): ({}, ADMIN, 401),
    ("GET", "/api/v1/openapi.json"): ({}, READ, 401),
    # The signed link is the credential: without a valid token the page says so (400) for anyone.
    ("GET", "/api/v1/notify/ack"): ({"params": {"token": "not-a-token"}}, {r: 400 for r in ROLES}, 400),
    ("POST", "/api/v1/notify/ack"): ({"data": {"token": "not-a-token"}}, {r: 400 for r in ROLES}, 400),
    ("GET", "/api/v1/notifications"): ({}, READ, 401),
    # Agency-owned routes: admins any agency's, agency analysts their own (alert-a's so-tttt);
    # no channel is given to any agency in these settings, so a write is refused (400).
    ("GET", "/api/v1/notify/routes"): ({}, {**ADMIN, "agency_analyst": 200}, 401),
    ("PUT", "/api/v1/notify/routes/{agency}/{name}"): (
        {"json": {"channels": ["no-such-channel"]}},
        {**ADMIN, "admin": 400, "agency_analyst": 400},
        401,
    ),
    ("DELETE", "/api/v1/notify/routes/{agency}/{name}"): ({}, {**ADMIN, "admin": 404, "agency_analyst": 404}, 401),
    ("POST", "/api/v1/notify/test/{channel}"): ({}, {**ADMIN, "admin": 404}, 401),
    ("GET", "/api/v1/meta"): ({}, READ, 401),
    ("GET", "/api/v1/receipts"): ({}, READ, 401),
    ("GET", "/api/v1/receipts/{source_id}/{day}"): ({}, {r: 404 for r in ROLES}, 401),
    # Another agency's report: SOC roles get it, agency users a 403.
    ("GET", "/api/v1/reports/figures"): ({"params": {"agency": "so-yte"}}, {**READ, **AGENCY_REFUSED}, 401),
    ("GET", "/api/v1/reports/report.pdf"): ({"params": {"agency": "so-yte"}}, {**READ, **AGENCY_REFUSED}, 401),
    ("GET", "/api/v1/compliance/coverage"): ({}, READ, 401),
    ("GET", "/api/v1/compliance/coverage/{system_id}"): ({}, {r: 404 for r in ROLES}, 401),
    ("GET", "/api/v1/compliance/policy"): ({}, READ, 401),
    ("GET", "/api/v1/systems"): ({}, READ, 401),
    ("GET", "/api/v1/systems/{system_id}"): ({}, {r: 404 for r in ROLES}, 401),
    ("POST", "/api/v1/systems"): (
        {"json": {"id": "sys-{role}", "name": "Hệ thống", "agency": "so-tttt", "security_level": 3}},
        {**ADMIN, "admin": 201},
        401,
    ),
    ("PATCH", "/api/v1/systems/{system_id}"): ({"json": {"security_level": 4}}, {**ADMIN, "admin": 404}, 401),
    ("DELETE", "/api/v1/systems/{system_id}"): ({}, {**ADMIN, "admin": 404}, 401),
    ("POST", "/api/v1/systems/import"): (
        {"content": "id,name,agency,security_level\nsys-csv,CSV,so-tttt,2\n", "headers": {"content-type": "text/csv"}},
        ADMIN,
        401,
    ),
    # Watch/allow lists: SOC analysts edit them (tune). Missing-list rows come before the PUT
    # that creates the list the placeholder names.
    ("GET", "/api/v1/lists"): ({}, TUNING_READ, 401),
    ("GET", "/api/v1/lists/{list_name}"): ({}, {**TUNING_READ, "admin": 404, "analyst": 404, "viewer": 404}, 401),
    ("POST", "/api/v1/lists/{list_name}/values"): ({"json": {"add": ["x"]}}, TUNE_MISSING, 401),
    ("DELETE", "/api/v1/lists/{list_name}"): ({}, TUNE_MISSING, 401),
    ("PUT", "/api/v1/lists/{list_name}"): ({"json": {"type": "string", "values": ["x"]}}, TUNE, 401),
    # Lookup tables: SOC staff read them, admins write them (like the systems inventory).
    ("GET", "/api/v1/lookups"): ({}, TUNING_READ, 401),
    ("GET", "/api/v1/lookups/{table_name}"): ({}, {**TUNING_READ, "admin": 404, "analyst": 404, "viewer": 404}, 401),
    ("DELETE", "/api/v1/lookups/{table_name}"): ({}, {**ADMIN, "admin": 404}, 401),
    ("PUT", "/api/v1/lookups/{table_name}"): ({"json": {"rows": [{"match": "10.0.0.0/8"}]}}, ADMIN, 401),
    ("POST", "/api/v1/lookups/{table_name}/import"): (
        {"content": "match,owner\n10.1.0.0/16,Ông A\n", "headers": {"content-type": "text/csv"}},
        ADMIN,
        401,
    ),
    ("GET", "/api/v1/cases"): ({}, READ, 401),
    ("POST", "/api/v1/cases"): (
        {"json": {"alert_ids": ["alert-a"]}},
        {"admin": 201, "analyst": 201, "viewer": 403, "agency_viewer": 403, "agency_analyst": 403},
        401,
    ),
    ("GET", "/api/v1/cases/{case_id}"): ({}, {r: 404 for r in ROLES}, 401),
    ("GET", "/api/v1/cases/{case_id}/report.docx"): ({}, {r: 404 for r in ROLES}, 401),
    ("GET", "/api/v1/cases/{case_id}/report.pdf"): ({}, {r: 404 for r in ROLES}, 401),
    ("PATCH", "/api/v1/cases/{case_id}"): ({"json": {"title": "x"}}, CASE_MISSING, 401),
    ("POST", "/api/v1/cases/{case_id}/status"): ({"json": {"status": "investigating"}}, CASE_MISSING, 401),
    ("POST", "/api/v1/cases/{case_id}/alerts"): ({"json": {"alert_ids": ["alert-a"]}}, CASE_MISSING, 401),
    ("POST", "/api/v1/cases/{case_id}/events"): ({"json": {"event_id": "ev-a-1"}}, CASE_MISSING, 401),
    ("POST", "/api/v1/cases/{case_id}/comments"): ({"json": {"text": "x"}}, CASE_MISSING, 401),
    ("POST", "/api/v1/cases/{case_id}/attachments"): ({"json": {"query": "*"}}, CASE_MISSING, 401),
    ("POST", "/api/v1/cases/{case_id}/tasks"): ({"json": {"title": "x"}}, CASE_MISSING, 401),
    ("POST", "/api/v1/cases/{case_id}/tasks/{task_id}/done"): ({}, CASE_MISSING, 401),
    ("POST", "/api/v1/cases/{case_id}/report/sent"): ({"json": {}}, CASE_MISSING, 401),
}


def app_routes(app) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    found: set[tuple[str, str]] = set()

    def walk(routes, prefix: str = "") -> None:  # type: ignore[no-untyped-def]
        for route in routes:
            if isinstance(route, APIRoute):
                found.update((m, prefix + route.path) for m in route.methods - {"HEAD"})
            elif hasattr(route, "original_router"):  # FastAPI's included routers
                walk(
                    route.original_router.routes,
                    prefix + getattr(route, "include_context", None).prefix
                    if getattr(getattr(route, "include_context", None), "prefix", None)
                    else prefix,
                )

    walk(app.routes)
    return found


async def call(client: httpx.AsyncClient, method: str, path: str, kwargs: dict, role: str) -> httpx.Response:
    path = path.replace("{alert_id}", "alert-a").replace("{username}", "viewer").replace("{channel}", "no-such-channel")
    path = path.replace("{rule_id}", BUNDLED_RULE).replace("{exception_id}", "no-such-exception")
    path = path.replace("{view_id}", "no-such-view")
    path = path.replace("{source_id}", "no-such-source").replace("{day}", "2026-01-01")
    path = path.replace("{system_id}", "no-such-system")
    path = path.replace("{indicator_id}", "no-such-indicator").replace("{feed_id}", "no-such-feed")
    path = path.replace("{kind}", "host").replace("{value}", "web01")
    path = path.replace("{case_id}", "no-such-case").replace("{task_id}", "no-such-task")
    path = path.replace("{agency}", "so-tttt").replace("{name}", "authz-route")
    path = path.replace("{search_id}", "no-such-search")
    path = path.replace("{job_id}", "no-such-job")
    path = path.replace("{list_name}", "no-such-list").replace("{table_name}", "no-such-table")
    if path.startswith("/api/v1/auth/"):
        client._transport.app.state.canhgac.limiter._entries.clear()  # type: ignore[attr-defined]
    kw = {k: v for k, v in kwargs.items()}
    if "json" in kw:
        kw["json"] = {
            k: (v.replace("{role}", role.replace("_", "-")) if isinstance(v, str) else v) for k, v in kw["json"].items()
        }
    if path.endswith("/stream"):
        async with client.stream(method, path, timeout=5) as resp:
            return resp
    return await client.request(method, path, **kw)


async def test_every_route_is_in_the_matrix(api) -> None:  # type: ignore[no-untyped-def]
    assert app_routes(api.app) == set(MATRIX), "a route was added without an authorisation expectation"


async def test_authorisation_matrix(api) -> None:  # type: ignore[no-untyped-def]
    failures = []
    # A hundred writes, each waiting for an index refresh: the `api` fixture's refresher releases them.
    for (method, path), (kwargs, expected, anonymous) in MATRIX.items():
        if path.endswith("/stream"):
            continue  # ASGITransport buffers whole bodies; the stream is covered over a real socket below
        async with api.client() as anon:
            resp = await call(anon, method, path, kwargs, "anon")
            if resp.status_code != anonymous:
                failures.append((method, path, "anonymous", resp.status_code, anonymous))
        for role in ROLES:
            if path == "/api/v1/auth/logout":
                continue  # would revoke the token the next rows use: checked at the end
            async with api.client(role) as client:
                resp = await call(client, method, path, kwargs, role)
            want = expected[role]
            if path == "/api/v1/alerts/{alert_id}/status" and role == "admin":
                want = 200
            if resp.status_code != want and not (want == 200 and path.endswith("/status") and resp.status_code == 409):
                failures.append((method, path, role, resp.status_code, want, resp.text[:200]))
    for role in ROLES:
        async with api.client(role) as client:
            assert (await client.post("/api/v1/auth/logout")).status_code == 204
            assert (await client.get("/api/v1/auth/me")).status_code == 401  # the token is revoked
    assert not failures, failures


async def test_agency_viewer_sees_only_its_agency(api) -> None:  # type: ignore[no-untyped-def]
    async with api.client("agency_viewer") as c, api.client("viewer") as everyone:
        alerts = (await c.get("/api/v1/alerts")).json()
        assert {a["agency"] for a in alerts["items"]} == {AGENCY_A}
        assert (await everyone.get("/api/v1/alerts")).json()["total"] == 2
        # Filtering by another agency does not widen the scope.
        assert (await c.get("/api/v1/alerts", params={"agency": "so-yte"})).json()["total"] == 0
        assert (await c.get(f"/api/v1/alerts/{api.alert_b}")).status_code == 404
        detail = (await c.get(f"/api/v1/alerts/{api.alert_a}")).json()
        assert [e["event"]["id"] for e in detail["events"]] == [api.event_a]
        assert (await c.post("/api/v1/alerts/search", json={"query": "*"})).json()["total"] == 1
        assert (await c.post("/api/v1/alerts/search", json={"query": "agency:so-yte"})).json()["total"] == 0
        events = (await c.post("/api/v1/events/search", json={"query": "*"})).json()
        assert {e["canhgac"]["agency"] for e in events["items"]} == {AGENCY_A} and events["total"] == 2
        assert (await c.post("/api/v1/events/search", json={"query": "hospital01"})).json()["total"] == 0
        top = (await c.post("/api/v1/events/top", json={"field": "host.name"})).json()
        assert [v["value"] for v in top["values"]] == ["web01"]
        histo = (await c.post("/api/v1/events/histogram", json={})).json()
        assert histo["total"] == 2
        alert_top = (await c.post("/api/v1/alerts/top", json={"field": "agency"})).json()
        assert [v["value"] for v in alert_top["values"]] == [AGENCY_A]
        dash = (await c.get("/api/v1/dashboard")).json()
        assert [v["value"] for v in dash["top_hosts"]["values"]] == ["web01"]
        assert dash["ingestion_by_source"]["total"] == 2
        for source in (await c.get("/api/v1/sources")).json()["items"]:
            assert source.get("agency", source.get("health", {}).get("agency")) == AGENCY_A


async def test_live_stream_is_agency_filtered(api) -> None:  # type: ignore[no-untyped-def]
    import contextlib

    import uvicorn

    from tests.conftest import free_port
    from tests.integration.api.conftest import make_alert

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):  # type: ignore[no-untyped-def]
            yield

    port = free_port()
    server = Server(
        uvicorn.Config(
            api.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    os_client = api.app.state.canhgac.opensearch
    index = api.settings.opensearch.alerts_index
    try:

        async def read_stream(role: str) -> list[str]:
            got: list[str] = []
            headers = {"Authorization": f"Bearer {api.tokens[role]}"}
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=20) as c:
                async with c.stream("GET", "/api/v1/alerts/stream") as resp:
                    assert resp.status_code == 200
                    assert resp.headers["content-type"].startswith("text/event-stream")
                    async for line in resp.aiter_lines():
                        if line.startswith("event: ready"):
                            ready.set()
                        if line.startswith("data: "):
                            data = json.loads(line[6:])
                            if "id" in data:
                                got.append(data["id"])
                        if role == "viewer" and {"live-a", "live-b"} <= set(got):
                            return got
                        if role == "agency_viewer" and "live-a2" in got:
                            return got  # written after live-b: had live-b leaked, it came before
            return got
            return got

        ready = asyncio.Event()
        scoped = asyncio.create_task(read_stream("agency_viewer"))
        await asyncio.wait_for(ready.wait(), 10)
        ready.clear()
        everyone = asyncio.create_task(read_stream("viewer"))
        await asyncio.wait_for(ready.wait(), 10)
        from datetime import UTC, datetime

        now = datetime.now(UTC)
        await os_client.index(index=index, id="live-a", body=make_alert("live-a", AGENCY_A, [], now), refresh=True)
        await os_client.index(index=index, id="live-b", body=make_alert("live-b", "so-yte", [], now), refresh=True)
        seen_all = await asyncio.wait_for(everyone, 15)
        await os_client.index(index=index, id="live-a2", body=make_alert("live-a2", AGENCY_A, [], now), refresh=True)
        seen_scoped = await asyncio.wait_for(scoped, 15)
        assert "live-a" in seen_all and "live-b" in seen_all
        assert "live-a" in seen_scoped and "live-b" not in seen_scoped
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


async def test_cookie_session_flags_csrf_and_headers(api) -> None:  # type: ignore[no-untyped-def]
    async with api.client() as c:
        resp = await c.post("/api/v1/auth/login", json={"username": "analyst", "password": PASSWORD})
        assert resp.status_code == 200
        cookies = resp.headers.get_list("set-cookie")
        session = next(v for v in cookies if v.startswith("canhgac_session="))
        csrf_cookie = next(v for v in cookies if v.startswith("canhgac_csrf="))
        assert "HttpOnly" in session and "SameSite=strict" in session and "Path=/" in session
        assert "HttpOnly" not in csrf_cookie and "SameSite=strict" in csrf_cookie
        assert "Secure" not in session  # plain HTTP in this test; "auto" sets Secure over TLS
        token = resp.json()["csrf_token"]
        assert (await c.get("/api/v1/alerts")).status_code == 200  # safe method: no CSRF header needed
        no_csrf = await c.post("/api/v1/alerts/alert-a/comments", json={"text": "x"})
        assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["detail"]
        wrong = await c.post("/api/v1/alerts/alert-a/comments", json={"text": "x"}, headers={"X-CSRF-Token": "nope"})
        assert wrong.status_code == 403
        ok = await c.post("/api/v1/alerts/alert-a/comments", json={"text": "x"}, headers={"X-CSRF-Token": token})
        assert ok.status_code == 200
        for path in ("/api/v1/alerts", "/", "/healthz"):
            r = await c.get(path)
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
            assert "script-src 'self'" in r.headers["content-security-policy"]
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["x-frame-options"] == "DENY"
            assert r.headers["referrer-policy"] == "no-referrer"
        assert (await c.get("/api/v1/alerts")).headers["cache-control"] == "no-store"
        out = await c.post("/api/v1/auth/logout", headers={"X-CSRF-Token": token})
        assert out.status_code == 204
        assert (await c.get("/api/v1/alerts")).status_code == 401


async def test_login_rate_limit(api) -> None:  # type: ignore[no-untyped-def]
    async with api.client() as c:
        for _ in range(3):  # login_max_failures = 3 in these tests
            assert (
                await c.post("/api/v1/auth/login", json={"username": "viewer", "password": "bad"})
            ).status_code == 401
        limited = await c.post("/api/v1/auth/login", json={"username": "viewer", "password": PASSWORD})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    async with api.client("admin") as admin:

        async def failure_audited() -> bool:
            audit = (await admin.get("/api/v1/audit", params={"action": "auth.login"})).json()
            return any(a["outcome"] == "failure" and a["actor"]["username"] == "viewer" for a in audit["items"])

        await eventually(failure_audited, timeout_secs=30, interval_secs=0.2)
