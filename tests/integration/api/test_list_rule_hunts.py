"""A rule naming a watch list (`%list:NAME%`) cannot be converted to a query (lists are matched per
event by the detector): its back-test and a retro-hunt of it started by hand are refused with a 400
that says so, and the hunt its upload queued fails with the same reason, on the real OpenSearch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import eventually
from tests.integration.api.conftest import iso

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
  condition: sel
"""


def says_watch_list(body: dict[str, Any]) -> bool:
    rejections = body.get("rejected") or []
    return any(r["reason"] == "watch list" and "%list:scanners%" in r["message"] for r in rejections)


async def test_list_rule_backtest_and_retro_hunt_refused_saying_why(api) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    window = {"start": iso(now - timedelta(hours=1)), "end": iso(now)}
    async with api.client("admin") as admin:
        uploaded = await admin.post("/api/v1/rules", json={"yaml": LIST_RULE})
        assert uploaded.status_code in (200, 201), uploaded.text  # the stream takes it (lists per event)

        pasted = await admin.post("/api/v1/rules/backtest", json={"yaml": LIST_RULE, **window})
        assert pasted.status_code == 400 and says_watch_list(pasted.json()), pasted.text
        by_id = await admin.post("/api/v1/rules/backtest", json={"rule_id": RULE_ID, **window})
        assert by_id.status_code == 400 and says_watch_list(by_id.json()), by_id.text

        hunt = await admin.post("/api/v1/retro-hunts", json={"rule_id": RULE_ID})
        assert hunt.status_code == 400 and says_watch_list(hunt.json()), hunt.text
        assert "retro-hunted" in hunt.json()["detail"]

        async def failed_upload_job() -> dict[str, Any] | None:
            jobs = (await admin.get("/api/v1/retro-hunts")).json()["items"]
            # The upload's job only (the refused manual one was never queued).
            assert [(j["trigger"], j["rule_id"]) for j in jobs] == [("rule.upload", RULE_ID)], jobs
            return jobs[0] if jobs[0]["state"] == "failed" else None

        job = await eventually(failed_upload_job, timeout_secs=60, interval_secs=0.3)
        assert "watch list %list:scanners%" in job["error"], job
