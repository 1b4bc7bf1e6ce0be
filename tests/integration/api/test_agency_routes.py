"""Agencies own their notification routes (issue 16, item 4): an agency analyst manages its
agency's routes only, with the channels the SOC gave its agency; the routes travel on their Kafka
topic and the notifier's follower applies them live. Real Kafka and OpenSearch."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from canhgac.core.agency_routes import RouteFollower
from canhgac.core.notify_config import AgencyRoute, NotifyConfig
from canhgac.pipeline.notify.routing import select_routes

from tests.conftest import eventually
from tests.integration.api.conftest import AGENCY_A, AGENCY_B

pytestmark = pytest.mark.integration

CHANNELS = {
    "tttt-mail": {"type": "email", "host": "127.0.0.1", "security": "none", "from_addr": "soc@x", "to": ["it@tttt"]},
    "yte-mail": {"type": "email", "host": "127.0.0.1", "security": "none", "from_addr": "soc@x", "to": ["it@yte"]},
}


@pytest.fixture
def api_settings(test_settings):  # type: ignore[no-untyped-def]
    notify = NotifyConfig.model_validate(
        {"channels": CHANNELS, "agency_channels": {AGENCY_A: ["tttt-mail"], AGENCY_B: ["yte-mail"]}}
    )
    return test_settings.model_copy(update={"notify": notify})


async def test_agency_analyst_owns_its_routes_and_the_notifier_follows_them(api) -> None:  # type: ignore[no-untyped-def]
    seen: list[list[AgencyRoute]] = []
    follower = RouteFollower(api.settings.kafka, "notifier", seen.append)
    stop = asyncio.Event()
    following = asyncio.create_task(follower.run(stop))
    route = f"/api/v1/notify/routes/{AGENCY_A}/truc-ca"
    try:
        async with api.client("agency_analyst") as own, api.client("admin") as admin, api.client("analyst") as soc:
            put = await own.put(route, json={"min_severity": "high", "channels": ["tttt-mail"]})
            assert put.status_code == 200, put.text
            assert put.json()["updated_by"] == "agency-analyst"
            # Another agency's routes do not exist for it; nor may it use another agency's channel.
            other = await own.put(f"/api/v1/notify/routes/{AGENCY_B}/x", json={"channels": ["yte-mail"]})
            assert other.status_code == 404
            assert (await own.put(route, json={"channels": ["yte-mail"]})).status_code == 400
            assert (await soc.get("/api/v1/notify/routes")).status_code == 403
            await admin.put(f"/api/v1/notify/routes/{AGENCY_B}/x", json={"channels": ["yte-mail"]})
            mine = (await own.get("/api/v1/notify/routes")).json()
            assert [(r["agency"], r["name"]) for r in mine["items"]] == [(AGENCY_A, "truc-ca")]
            assert mine["channels"] == ["tttt-mail"]
            assert len((await admin.get("/api/v1/notify/routes")).json()["items"]) == 2

            # The notifier's follower has both; the agency's alerts of high severity take its route
            # and still the SOC's catch-all.
            await eventually(lambda: _true(bool(seen) and len(seen[-1]) == 2), timeout_secs=30, interval_secs=0.2)
            extra = [r.as_route() for r in seen[-1]]
            now = datetime.now(UTC)

            def routes_for(agency: str, severity: str) -> list[str]:
                alert = {"id": "a", "agency": agency, "severity": severity}
                return [r.name for r in select_routes(api.settings.notify, alert, now, extra)]

            assert routes_for(AGENCY_A, "high") == [f"agency.{AGENCY_A}.truc-ca", "catch-all"]
            assert routes_for(AGENCY_A, "low") == ["catch-all"]
            assert routes_for("so-gd", "critical") == ["catch-all"]

            assert (await own.delete(route)).status_code == 204
            assert (await own.delete(route)).status_code == 404
            await eventually(lambda: _true(len(seen[-1]) == 1), timeout_secs=30, interval_secs=0.2)
    finally:
        stop.set()
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)


async def _true(value: bool) -> bool:
    return value
