"""A SOC alert of a cross-agency correlation through the API (issue 10, finding 1): SOC roles see
all of it; each involved agency's viewer sees it with its own events only; any other agency's
viewer gets 404. And the alert vocabulary the console reads (GET /api/v1/meta)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from canhgac.core.alert import (
    SOC_AGENCY,
    AlertRule,
    Comment,
    CorrelationInfo,
    Resolution,
    Severity,
    Status,
    build_alert,
)

from tests.integration.api.conftest import AGENCY_A, AGENCY_B

pytestmark = pytest.mark.integration

SOC_ALERT = "alert-soc"


async def seed_soc_alert(api) -> None:  # type: ignore[no-untyped-def]
    """One address brute-forcing both agencies; the completing event (the snapshot) is B's."""
    state = api.app.state.canhgac
    now = datetime.now(UTC) - timedelta(minutes=5)
    alert = build_alert(
        alert_id=SOC_ALERT,
        rule=AlertRule(id="corr-1", title="One address brute-forcing SSH in several agencies", level="high"),
        agency=SOC_AGENCY,
        agencies=[AGENCY_A, AGENCY_B],
        created_by="detector",
        first_seen=now,
        last_seen=now,
        count=2,
        event_ids=[api.event_a, api.event_b],
        snapshot={"event": {"id": api.event_b}, "host": {"name": "hospital01"}, "canhgac": {"agency": AGENCY_B}},
        group={"user.name": "root"},
        identity_from_snapshot=False,
        user="root",
        correlation=CorrelationInfo(type="value_count", group={"user.name": "root"}, cross_agency=True),
    ).model_copy(update={"comments": [Comment(at="2026-11-26T03:00:00.000Z", by="analyst", text="so-yte hit too")]})
    await state.opensearch.index(
        index=api.settings.opensearch.alerts_index, id=SOC_ALERT, body=alert.to_document(), refresh=True
    )


async def test_soc_alert_is_seen_by_each_involved_agency_with_its_own_events_only(api) -> None:  # type: ignore[no-untyped-def]
    await seed_soc_alert(api)
    async with api.client("agency_viewer") as agency_a, api.client("viewer") as soc:
        whole = (await soc.get(f"/api/v1/alerts/{SOC_ALERT}")).json()
        assert whole["agency"] == SOC_AGENCY and whole["agencies"] == [AGENCY_A, AGENCY_B]
        assert sorted(e["event"]["id"] for e in whole["events"]) == sorted([api.event_a, api.event_b])
        assert whole["event"]["canhgac"]["agency"] == AGENCY_B and whole["comments"]

        mine = (await agency_a.get(f"/api/v1/alerts/{SOC_ALERT}")).json()
        assert mine["agency"] == SOC_AGENCY and mine["agencies"] == [AGENCY_A]
        assert [e["event"]["id"] for e in mine["events"]] == [api.event_a]
        assert mine["event_ids"] == [api.event_a]
        assert mine["event"] is None  # the snapshot was the other agency's event
        assert mine["comments"] == []  # the SOC's notes may name other agencies
        assert mine["user"]["name"] == "root" and mine["host"]["name"] is None

        listed = {a["id"]: a for a in (await agency_a.get("/api/v1/alerts")).json()["items"]}
        assert set(listed) == {api.alert_a, SOC_ALERT}
        assert listed[SOC_ALERT]["agencies"] == [AGENCY_A] and listed[SOC_ALERT]["event_ids"] == []
        assert listed[api.alert_a]["event_ids"] == [api.event_a]  # its own alert is untouched
        # Counts and top values cover the agency's own alerts, not its part of SOC alerts.
        top = (await agency_a.post("/api/v1/alerts/top", json={"field": "agencies"})).json()
        assert AGENCY_B not in [v["value"] for v in top["values"]]
        histogram = (await agency_a.post("/api/v1/alerts/histogram", json={})).json()
        assert histogram["total"] == 1

        # B's viewer sees it with B's events; an uninvolved agency's viewer does not see it at all.
        async with await agency_viewer_client(api, "viewer-b", AGENCY_B) as b_viewer:
            seen_by_b = (await b_viewer.get(f"/api/v1/alerts/{SOC_ALERT}")).json()
            assert [e["event"]["id"] for e in seen_by_b["events"]] == [api.event_b]
            assert seen_by_b["event"]["canhgac"]["agency"] == AGENCY_B
            assert (await b_viewer.get(f"/api/v1/alerts/{api.alert_a}")).status_code == 404
        async with await agency_viewer_client(api, "viewer-c", "so-gddt") as other:
            assert (await other.get(f"/api/v1/alerts/{SOC_ALERT}")).status_code == 404
            assert (await other.get("/api/v1/alerts")).json()["total"] == 0


async def agency_viewer_client(api, username: str, agency: str):  # type: ignore[no-untyped-def]
    """A client with a bearer token of a new agency viewer."""
    from canhgac.api.auth import service as auth_service
    from canhgac.api.users.models import UserCreate
    from canhgac.api.users.service import create_user

    from tests.integration.api.conftest import PASSWORD

    state = api.app.state.canhgac
    cfg = api.settings.opensearch
    user = UserCreate(username=username, role="agency_viewer", agency=agency, password=PASSWORD)
    await create_user(state.opensearch, cfg.users_index, user, by="test")
    api.tokens[username], _ = await auth_service.issue(
        state.opensearch, cfg.sessions_index, kind="token", username=username, ttl_secs=3600
    )
    return api.client(username)


async def test_meta_lists_the_alert_vocabulary(api) -> None:  # type: ignore[no-untyped-def]
    async with api.client() as anonymous:
        assert (await anonymous.get("/api/v1/meta")).status_code == 401
    async with api.client("agency_viewer") as c:
        meta = (await c.get("/api/v1/meta")).json()
    assert [(s["value"], s["score"]) for s in meta["severities"]] == [
        ("informational", 10),
        ("low", 21),
        ("medium", 47),
        ("high", 73),
        ("critical", 99),
    ]
    assert [s["value"] for s in meta["severities"]] == list(Severity)
    assert meta["statuses"] == list(Status) == ["new", "acknowledged", "in_progress", "closed"]
    assert meta["transitions"] == {
        "new": ["acknowledged", "in_progress", "closed"],
        "acknowledged": ["in_progress", "closed"],
        "in_progress": ["acknowledged", "closed"],
        "closed": ["acknowledged"],
    }
    assert meta["resolutions"] == list(Resolution) == ["true_positive", "false_positive", "benign"]
    assert meta["soc_agency"] == SOC_AGENCY
