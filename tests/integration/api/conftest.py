"""An API on the real OpenSearch with isolated indices, one user per role, and two agencies' data."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

PASSWORD = "correct horse battery staple"
AGENCY_A = "so-tttt"
AGENCY_B = "so-yte"
USERS = {
    "admin": ("admin", None),
    "analyst": ("analyst", None),
    "viewer": ("viewer", None),
    "agency_viewer": ("agency_viewer", AGENCY_A),
    "agency_analyst": ("agency_analyst", AGENCY_A),
}


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_event(event_id: str, agency: str, message: str, ts: datetime, host: str = "web01") -> dict[str, Any]:
    return {
        "@timestamp": iso(ts),
        "message": message,
        "event": {"id": event_id, "dataset": "test.auth"},
        "host": {"name": host},
        "user": {"name": "root"},
        "canhgac": {"agency": agency, "source_id": f"src-{agency}", "dataset": "test.auth"},
    }


def make_alert(
    alert_id: str,
    agency: str,
    event_ids: list[str],
    ts: datetime,
    severity: str = "high",
    status: str = "new",
    host: str = "web01",
) -> dict[str, Any]:
    return {
        "id": alert_id,
        "@timestamp": iso(ts),
        "rule": {
            "id": "rule-1",
            "title": "SSH brute force",
            "level": severity,
            "author": "Canhgac SOC",
            "tags": ["attack.t1110"],
            "references": [],
            "description": "many failures",
        },
        "severity": severity,
        "severity_score": 73,
        "first_seen": iso(ts),
        "last_seen": iso(ts),
        "count": len(event_ids),
        "event_ids": event_ids,
        "event": {"message": "snapshot"},
        "agency": agency,
        "host": {"name": host},
        "user": {"name": "root"},
        "source": {"ip": "203.0.113.66"},
        "status": status,
        "resolution": None,
        "assignee": None,
        "comments": [],
        "history": [{"at": iso(ts), "by": "detector", "action": "created"}],
        "created_at": iso(ts),
    }


@dataclass
class Api:
    app: Any
    settings: Any
    base_url: str = "http://testserver"
    tokens: dict[str, str] = field(default_factory=dict)
    alert_a: str = "alert-a"
    alert_b: str = "alert-b"
    event_a: str = "ev-a-1"
    event_b: str = "ev-b-1"

    def client(self, role: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url=self.base_url,
            headers=headers,
            timeout=30,
            **kwargs,
        )

    async def login(self, username: str, password: str = PASSWORD) -> httpx.AsyncClient:
        """A browser-like client: session cookie plus the CSRF header."""
        client = self.client()
        resp = await client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert resp.status_code == 200, resp.text
        client.headers["X-CSRF-Token"] = resp.json()["csrf_token"]
        return client


@contextlib.asynccontextmanager
async def refreshing(settings: Any, every_secs: float = 0.1) -> AsyncIterator[None]:
    """Refresh the test's indices every `every_secs` meanwhile. Most API writes wait for the next
    refresh (refresh="wait_for") to answer, up to the indices' 1 s interval: a refresh by anyone
    releases them, so a test making hundreds of writes waits for these instead. What the writes do
    and what becomes visible is unchanged; only sooner."""
    from canhgac.core.store import make_client

    cfg = settings.opensearch
    names = ",".join(
        f"{name}*"
        for name in (cfg.index_prefix, cfg.alerts_index, cfg.sources_index, cfg.config_index_prefix, cfg.audit_index)
    )
    client = make_client(cfg, component="admin")
    stop = asyncio.Event()

    async def loop() -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):  # a refresh that failed is only a slower answer
                await client.indices.refresh(
                    index=names, expand_wildcards="all", allow_no_indices=True, ignore_unavailable=True
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_secs)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        stop.set()
        await task
        await client.close()


async def seed(settings: Any) -> None:
    from canhgac.core.store import ensure_templates, events_index, make_client

    client = make_client(settings.opensearch, component="admin")
    try:
        await ensure_templates(client, settings.opensearch)
        now = datetime.now(UTC) - timedelta(minutes=5)
        stream = events_index(settings.opensearch.index_prefix, "test.auth")
        docs = [
            make_event("ev-a-1", AGENCY_A, "Failed password for root from 203.0.113.66", now, "web01"),
            make_event("ev-a-2", AGENCY_A, "Accepted password for staff1", now + timedelta(seconds=1), "web01"),
            make_event("ev-b-1", AGENCY_B, "Failed password for root from 198.51.100.7", now, "hospital01"),
        ]
        for doc in docs:
            await client.index(index=stream, body=doc, op_type="create")
        await client.index(
            index=settings.opensearch.alerts_index,
            id="alert-a",
            body=make_alert("alert-a", AGENCY_A, ["ev-a-1"], now),
        )
        await client.index(
            index=settings.opensearch.alerts_index,
            id="alert-b",
            body=make_alert("alert-b", AGENCY_B, ["ev-b-1"], now, host="hospital01"),
        )
        await client.indices.refresh(index=f"{settings.opensearch.index_prefix}.*,{settings.opensearch.alerts_index}")
    finally:
        await client.close()


async def cleanup(settings: Any) -> None:
    from canhgac.api.indices import api_templates
    from canhgac.api.saved_views.service import saved_views_index
    from canhgac.core.store import make_client

    cfg = settings.opensearch
    client = make_client(cfg, component="admin")
    try:
        await client.indices.delete_data_stream(name=f"{cfg.index_prefix}.*", ignore=[404])
        for pattern in (cfg.alerts_index, f"{cfg.config_index_prefix}-*", cfg.audit_index, f"{cfg.audit_index}-*"):
            await client.indices.delete(index=pattern, ignore=[404], expand_wildcards="all")
        for name in (
            cfg.index_prefix,
            cfg.alerts_index,
            cfg.users_index,
            cfg.sessions_index,
            cfg.exceptions_index,
            cfg.rules_index,
            cfg.source_configs_index,
            cfg.audit_index,
            *api_templates(cfg),  # every template the API puts (systems, receipts, audit anchors …)
            saved_views_index(cfg),
        ):
            await client.indices.delete_index_template(name=name, ignore=[404])
    finally:
        await client.close()


@pytest.fixture
def api_settings(test_settings):  # type: ignore[no-untyped-def]
    return test_settings.model_copy(
        update={"api": test_settings.api.model_copy(update={"stream_poll_secs": 0.2, "login_max_failures": 3})}
    )


@pytest.fixture
async def api(api_settings) -> AsyncIterator[Api]:  # type: ignore[no-untyped-def]
    from canhgac.api.app import create_app
    from canhgac.api.auth import service as auth_service
    from canhgac.api.users.models import UserCreate
    from canhgac.api.users.service import create_user
    from canhgac.core.kafka import ensure_topics

    app = create_app(api_settings)
    await seed(api_settings)
    await ensure_topics(api_settings.kafka)  # alert changes are published, as in a real deployment
    try:
        # The refresher: the users' writes below and the test's own wait for refreshes (refreshing()).
        async with app.router.lifespan_context(app), refreshing(api_settings):
            state = app.state.canhgac
            harness = Api(app=app, settings=api_settings)

            async def user_with_token(username: str, role: str, agency: str | None) -> None:
                name = username.replace("_", "-")
                await create_user(
                    state.opensearch,
                    api_settings.opensearch.users_index,
                    UserCreate(username=name, role=role, agency=agency, password=PASSWORD),
                    by="test",
                )
                secret, _ = await auth_service.issue(
                    state.opensearch,
                    api_settings.opensearch.sessions_index,
                    kind="token",
                    username=name,
                    ttl_secs=3600,
                )
                harness.tokens[role] = secret

            # All at once: each write waits for an index refresh, one after another they took seconds.
            await asyncio.gather(*(user_with_token(u, r, a) for u, (r, a) in USERS.items()))
            yield harness
    finally:
        await cleanup(api_settings)
