"""On-call acknowledgement links against the real OpenSearch (issue 10, findings 7 and 8): a link
works once, acknowledging never reopens or overrides triage, and the MAC is checked before anything
in the token is parsed."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.api.conftest import Api

pytestmark = pytest.mark.integration
ACK_SECRET = "ack-secret-for-tests-0123456789"


@pytest.fixture
def api_settings(test_settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    secret = tmp_path / "ack.secret"
    secret.write_text(ACK_SECRET)
    return test_settings.model_copy(
        update={
            "api": test_settings.api.model_copy(update={"stream_poll_secs": 0.2, "login_max_failures": 3}),
            "notify": test_settings.notify.model_copy(update={"ack_secret_file": str(secret)}),
        }
    )


def link_token(alert_id: str) -> str:
    from canhgac.pipeline.notify.ack import AckSigner
    from canhgac.pipeline.notify.clock import SystemClock

    signer = AckSigner(ACK_SECRET.encode(), SystemClock())
    return signer.make_ack_token(alert_id, datetime.now(UTC) + timedelta(hours=72))


async def alert_status(api: Api, alert_id: str) -> dict:  # type: ignore[type-arg]
    async with api.client("admin") as c:
        return (await c.get(f"/api/v1/alerts/{alert_id}")).json()  # type: ignore[no-any-return]


async def test_ack_link_is_single_use(api: Api) -> None:
    token = link_token("alert-a")
    async with api.client() as anonymous:
        first = await anonymous.post("/api/v1/notify/ack", data={"token": token})
        assert first.status_code == 200, first.text
        assert (await alert_status(api, "alert-a"))["status"] == "acknowledged"
        again = await anonymous.post("/api/v1/notify/ack", data={"token": token})
        assert again.status_code == 409 and "already used" in again.text
        page = await anonymous.get("/api/v1/notify/ack", params={"token": token})
        assert page.status_code == 409 and "already used" in page.text
    history = (await alert_status(api, "alert-a"))["history"]
    assert sum(1 for h in history if h.get("action") == "status") == 1


async def test_ack_link_never_reopens_a_closed_alert(api: Api) -> None:
    token = link_token("alert-a")  # mailed while the alert was new
    async with api.client("analyst") as analyst:
        closed = await analyst.post(
            "/api/v1/alerts/alert-a/status", json={"status": "closed", "resolution": "false_positive"}
        )
        assert closed.status_code == 200, closed.text
    async with api.client() as anonymous:
        resp = await anonymous.post("/api/v1/notify/ack", data={"token": token})
    assert resp.status_code == 200 and "closed" in resp.text
    alert = await alert_status(api, "alert-a")
    assert alert["status"] == "closed" and alert["resolution"] == "false_positive"
    assert alert["closed_by"] == "analyst"


async def test_ack_link_leaves_an_in_progress_alert_alone(api: Api) -> None:
    token = link_token("alert-a")
    async with api.client("analyst") as analyst:
        assert (await analyst.post("/api/v1/alerts/alert-a/status", json={"status": "in_progress"})).status_code == 200
    async with api.client() as anonymous:
        resp = await anonymous.post("/api/v1/notify/ack", data={"token": token})
    assert resp.status_code == 200 and "in_progress" in resp.text
    assert (await alert_status(api, "alert-a"))["status"] == "in_progress"


async def test_ack_token_with_deeply_nested_payload_is_400_not_500(api: Api) -> None:
    nested = base64.urlsafe_b64encode(b"[" * 1500 + b"]" * 1500).rstrip(b"=").decode()  # fits the form
    async with api.client() as anonymous:
        resp = await anonymous.post("/api/v1/notify/ack", data={"token": nested + "." + "A" * 43})
    assert resp.status_code == 400


async def test_ack_post_body_over_the_cap_is_refused(api: Api) -> None:
    async with api.client() as anonymous:
        resp = await anonymous.post(
            "/api/v1/notify/ack",
            content=b"token=" + b"A" * 1_000_000,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert resp.status_code == 413
