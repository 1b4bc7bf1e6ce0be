"""A rule naming watch and allow lists (`%list:NAME%`), back-tested and retro-hunted on the real
OpenSearch: the lists' current values are expanded into the converted query (rules/convert_lists.py),
so events stored before answer as the detector would answer them — an address listed, or inside a
listed network, is found; one not listed is not; an allow-listed user is left out; an edit of a list
changes the next back-test. The one refusal (400, saying why): an address list holding networks
named on a text field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import eventually
from tests.integration.api.conftest import AGENCY_A, iso
from tests.integration.api.test_intel_arrivals import job_when, retro_alerts, ssh_event, store_events

pytestmark = pytest.mark.e2e

RULE_ID = "5b0c7a1e-3f2d-4c6b-9a8e-7d6c5b4a3f21"
LIST_RULE = f"""title: From a watched scanner
id: {RULE_ID}
status: experimental
level: medium
logsource: {{product: linux, service: sshd}}
detection:
  sel:
    source.ip|expand: '%list:scanners%'
  allowed:
    user.name|expand: '%list:service-accounts%'
  condition: sel and not allowed
"""
TEXT_RULE_ID = "6c1d8b2f-4a3e-4d7c-8b9f-8e7d6c5b4a32"
TEXT_FIELD_RULE = f"""title: Scanner named in a user field
id: {TEXT_RULE_ID}
level: low
logsource: {{product: linux, service: sshd}}
detection:
  sel:
    user.name|expand: '%list:scanners%'
  condition: sel
"""
MISSING_LIST_RULE = """title: From a list nobody made
logsource: {product: linux, service: sshd}
detection:
  sel:
    source.ip|expand: '%list:not-made-yet%'
  condition: sel
"""


def hosts(items: list[dict[str, Any]]) -> list[str]:
    return sorted(e["host"]["name"] for e in items)


def says_networks_on_text(body: dict[str, Any]) -> bool:
    rejections = body.get("rejected") or []
    return any(
        r["reason"] == "watch list"
        and "%list:scanners%" in r["message"]
        and "user.name is a text field" in r["message"]
        for r in rejections
    )


async def test_list_rule_backtest_and_retro_hunt_expand_the_lists(api) -> None:  # type: ignore[no-untyped-def]
    allowed = ssh_event(AGENCY_A, "web04", "203.0.113.7", timedelta(hours=2))
    allowed["user"]["name"] = "backup"
    await store_events(
        api.settings,
        [
            ssh_event(AGENCY_A, "web01", "203.0.113.7", timedelta(hours=2)),  # a listed address
            ssh_event(AGENCY_A, "web02", "10.0.9.5", timedelta(hours=2)),  # inside a listed network
            ssh_event(AGENCY_A, "web03", "198.51.100.1", timedelta(hours=2)),  # not listed
            allowed,  # a listed address, but an allow-listed user
        ],
    )
    now = datetime.now(UTC)
    window = {"start": iso(now - timedelta(hours=4)), "end": iso(now)}
    async with api.client("admin") as admin:
        for name, body in (
            ("scanners", {"type": "ip", "values": ["10.0.9.0/24", "203.0.113.7"]}),
            ("service-accounts", {"type": "string", "values": ["Backup"]}),  # case ignored, as by Sigma
        ):
            made = await admin.put(f"/api/v1/lists/{name}", json=body)
            assert made.status_code in (200, 201), made.text

        # Uploaded: its retro-hunt expands the lists as they are when the job runs.
        uploaded = await admin.post("/api/v1/rules", json={"yaml": LIST_RULE})
        assert uploaded.status_code in (200, 201), uploaded.text
        jobs = [j for j in (await admin.get("/api/v1/retro-hunts")).json()["items"] if j["rule_id"] == RULE_ID]
        assert [j["trigger"] for j in jobs] == ["rule.upload"], jobs
        job = await job_when(admin, jobs[0]["id"], "done", "failed")
        assert job["state"] == "done" and job["events_matched"] == 2 and job["alerts_raised"] == 2, job
        assert hosts(await retro_alerts(api, {"rule.id": RULE_ID})) == ["web01", "web02"]

        tested = await admin.post("/api/v1/rules/backtest", json={"rule_id": RULE_ID, **window})
        assert tested.status_code == 200, tested.text
        assert tested.json()["total"] == 2 and hosts(tested.json()["items"]) == ["web01", "web02"]
        assert "10.0.9.0\\/24" in tested.json()["queries"][0]

        # An edit of the list: the next back-test reads it.
        edited = await admin.post("/api/v1/lists/scanners/values", json={"remove": ["203.0.113.7"]})
        assert edited.status_code == 200, edited.text
        again = (await admin.post("/api/v1/rules/backtest", json={"rule_id": RULE_ID, **window})).json()
        assert again["total"] == 1 and hosts(again["items"]) == ["web02"], again

        # A list that does not exist holds nothing: nothing found (not an error), as on the stream.
        missing = await admin.post("/api/v1/rules/backtest", json={"yaml": MISSING_LIST_RULE, **window})
        assert missing.status_code == 200 and missing.json()["total"] == 0, missing.text

        # Networks tested against a text field: refused, saying why (the stream takes the rule).
        pasted = await admin.post("/api/v1/rules/backtest", json={"yaml": TEXT_FIELD_RULE, **window})
        assert pasted.status_code == 400 and says_networks_on_text(pasted.json()), pasted.text
        uploaded = await admin.post("/api/v1/rules", json={"yaml": TEXT_FIELD_RULE})
        assert uploaded.status_code in (200, 201), uploaded.text
        hunt = await admin.post("/api/v1/retro-hunts", json={"rule_id": TEXT_RULE_ID})
        assert hunt.status_code == 400 and says_networks_on_text(hunt.json()), hunt.text

        async def failed_upload_job() -> dict[str, Any] | None:
            jobs = [j for j in (await admin.get("/api/v1/retro-hunts")).json()["items"] if j["rule_id"] == TEXT_RULE_ID]
            assert [j["trigger"] for j in jobs] == ["rule.upload"], jobs  # the refused one was never queued
            return jobs[0] if jobs[0]["state"] == "failed" else None

        failed = await eventually(failed_upload_job, timeout_secs=60, interval_secs=0.3)
        assert "user.name is a text field" in failed["error"], failed
