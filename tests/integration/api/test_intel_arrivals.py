"""Knowledge arriving, on the real OpenSearch and Kafka (issue 15 items 4 and 2).

Retro-hunts: events stored BEFORE an indicator or a rule existed are found by the job the arrival
starts in the API process, raising retro alerts exactly once per (indicator or rule, event group),
in the event's agency; a re-run raises none more; jobs can be cancelled, queued or running.

A MISP REST search feed (`POST /attributes/restSearch`) against a local HTTP server that answers as
MISP does, then an event through real Kafka with one of its indicators: a stream alert naming the
indicator and its feed.

One test, one API: the API's start-up is most of the cost of each flow (CI budget)."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from canhgac.api.intel.feeds import poll_if_due
from canhgac.core.config import RetroHuntConfig
from canhgac.core.store import events_index, make_client

from canhgac.demo_feed import send_lines
from tests.conftest import eventually
from tests.integration.api.conftest import AGENCY_A, AGENCY_B, iso
from tests.integration.api.test_intel_feeds import (
    detector_has,
    free_port_in,
    intel_alerts,
    running_pipeline,
    ssh_line,
)

pytestmark = pytest.mark.e2e

# One page of 5 events, then a long pause (a cancel ends it within check_interval_secs): a job
# over more than 5 events is still running when the test cancels it.
HUNTS = RetroHuntConfig(page_size=5, min_pause_secs=60.0, check_interval_secs=0.2)


@pytest.fixture
def api_settings(test_settings):  # type: ignore[no-untyped-def]
    return test_settings.model_copy(update={"retro_hunt": HUNTS})


async def store_events(settings: Any, events: list[dict[str, Any]]) -> None:
    client = make_client(settings.opensearch, component="admin")
    try:
        stream = events_index(settings.opensearch.index_prefix, "linux.auth")
        for event in events:
            await client.index(index=stream, body=event, op_type="create")
        await client.indices.refresh(index=f"{settings.opensearch.index_prefix}.*")
    finally:
        await client.close()


def ssh_event(agency: str, host: str, address: str, ago: timedelta, message: str | None = None) -> dict[str, Any]:
    """An sshd event `ago` before now, at the first minute of its 10-minute alert window (events a
    few seconds apart group into one alert whatever the clock says)."""
    ts = datetime.fromtimestamp((datetime.now(UTC) - ago).timestamp() // 600 * 600 + 60, UTC)
    return {
        "@timestamp": iso(ts),
        "message": message or f"Accepted password for deploy from {address} port 40022 ssh2",
        "event": {"id": uuid.uuid4().hex, "dataset": "linux.auth"},
        "host": {"name": host},
        "user": {"name": "deploy"},
        "source": {"ip": address},
        "canhgac": {
            "agency": agency,
            "source_id": f"src-{agency}",
            "dataset": "linux.auth",
            "logsource": {"product": "linux", "service": "sshd"},
        },
    }


async def retro_alerts(api: Any, term: dict[str, Any]) -> list[dict[str, Any]]:
    client = api.app.state.canhgac.opensearch
    index = api.settings.opensearch.alerts_index
    await client.indices.refresh(index=index, ignore_unavailable=True)
    found = await client.search(
        index=index,
        body={"size": 50, "query": {"bool": {"filter": [{"term": term}, {"exists": {"field": "retro.job"}}]}}},
        ignore_unavailable=True,
    )
    return [h["_source"] for h in found["hits"]["hits"]]


async def audited(api: Any, action: str, targets: set[str]) -> None:
    """The audit log is searched: a record shows within a refresh interval."""
    async with api.client("admin") as admin:

        async def check() -> bool:
            items = (await admin.get("/api/v1/audit", params={"action": action})).json()["items"]
            return {a["target"]["id"] for a in items} == targets

        await eventually(check, timeout_secs=20)


async def job_when(client: Any, job_id: str, *states: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        job = (await client.get(f"/api/v1/retro-hunts/{job_id}")).json()
        return job if job["state"] in states else None

    result: dict[str, Any] = await eventually(check, timeout_secs=60, interval_secs=0.3)
    return result


async def test_retro_hunts_and_misp_rest_feed(api, misp_rest: tuple[str, MispServer]) -> None:  # type: ignore[no-untyped-def]
    await indicator_retro_hunt_finds_older_events_once(api)
    await cancel_queued_and_running_jobs(api)
    await resumed_when_its_runner_is_lost(api)
    await rule_upload_hunts_stored_events(api)
    await misp_rest_search_to_stream_alert(api, misp_rest)


async def indicator_retro_hunt_finds_older_events_once(api: Any) -> None:
    """Events stored days before the indicator existed: the add starts a hunt that raises one retro
    alert per event group (two events of one host group into one), each in its event's agency;
    the hunt run again raises none more."""
    address = "203.0.113.77"
    await store_events(
        api.settings,
        [
            ssh_event(AGENCY_B, "hospital-web", address, timedelta(days=3)),
            ssh_event(AGENCY_B, "hospital-web", address, timedelta(days=3)),  # the same minute: one group
            ssh_event(AGENCY_A, "tttt-db", address, timedelta(days=2)),
            ssh_event(AGENCY_A, "tttt-db", "198.51.100.1", timedelta(days=2)),  # another address: no alert
            ssh_event(AGENCY_A, "tttt-db", address, timedelta(days=45)),  # beyond the 30 days looked at
        ],
    )
    async with api.client("analyst") as analyst, api.client("viewer") as viewer:
        added = await analyst.post(
            "/api/v1/intel/indicators",
            json={"type": "ipv4", "value": address, "severity": "critical", "reason": "bulletin 14/2026"},
        )
        assert added.status_code == 201, added.text
        indicator = added.json()
        jobs = (await viewer.get("/api/v1/retro-hunts")).json()["items"]
        assert [(j["kind"], j["trigger"], j["indicator_count"]) for j in jobs] == [("indicators", "indicator.add", 1)]
        job = await job_when(viewer, jobs[0]["id"], "done")
        assert job["alerts_raised"] == 2 and job["alerts_existing"] == 0, job
        assert job["events_matched"] == 3 and job["progress"]["percent"] == 100.0 and job["truncated"] is None

        alerts = await retro_alerts(api, {"indicator.id": indicator["id"]})
        by_agency = {a["agency"]: a for a in alerts}
        assert sorted(by_agency) == [AGENCY_A, AGENCY_B] and len(alerts) == 2
        hospital = by_agency[AGENCY_B]
        assert hospital["count"] == 2 and hospital["host"]["name"] == "hospital-web" and hospital["status"] == "new"
        assert hospital["rule"]["id"] == f"intel:{indicator['id']}" and hospital["severity"] == "critical"
        assert hospital["retro"]["kind"] == "indicator" and hospital["retro"]["feed"] == "manual"
        assert hospital["retro"]["job"] == job["id"]
        assert hospital["retro"]["arrived_at"][:19] == indicator["updated_at"][:19]
        assert hospital["indicator"]["field"] == "source.ip" and hospital["indicator"]["value"] == address

        # Triaged like any alert, on its own.
        moved = await analyst.post(f"/api/v1/alerts/{hospital['id']}/status", json={"status": "acknowledged"})
        assert moved.status_code == 200, moved.text

        rerun = await analyst.post("/api/v1/retro-hunts", json={"indicator_ids": [indicator["id"]]})
        assert rerun.status_code == 202, rerun.text
        again = await job_when(viewer, rerun.json()["items"][0]["id"], "done")
        assert again["alerts_raised"] == 0 and again["alerts_existing"] == 2 and again["trigger"] == "manual"
        assert len(await retro_alerts(api, {"indicator.id": indicator["id"]})) == 2

    await audited(api, "retro_hunt.start", {job["id"], again["id"]})


async def cancel_queued_and_running_jobs(api: Any) -> None:
    address = "203.0.113.78"
    await store_events(
        api.settings,
        [ssh_event(AGENCY_A, f"web{i:02d}", address, timedelta(days=1, minutes=20 * i)) for i in range(8)],
    )
    async with api.client("analyst") as analyst, api.client("viewer") as viewer:
        indicator = (
            await analyst.post("/api/v1/intel/indicators", json={"type": "ipv4", "value": address, "reason": "x"})
        ).json()
        running = (await viewer.get("/api/v1/retro-hunts")).json()["items"][0]
        assert running["trigger"] == "indicator.add" and running["state"] in ("queued", "running")

        async def paused() -> dict[str, Any] | None:
            job = (await viewer.get(f"/api/v1/retro-hunts/{running['id']}")).json()
            return job if job["state"] == "running" and job["events_scanned"] >= 5 else None

        first_page = await eventually(paused, timeout_secs=60, interval_secs=0.3)
        assert 0 < first_page["progress"]["percent"] < 100

        # One job at a time: a second hunt waits, and is cancelled at once.
        queued = (await analyst.post("/api/v1/retro-hunts", json={"indicator_ids": [indicator["id"]]})).json()
        queued_id = queued["items"][0]["id"]
        assert (await viewer.get(f"/api/v1/retro-hunts/{queued_id}")).json()["state"] == "queued"
        assert (await viewer.post(f"/api/v1/retro-hunts/{queued_id}/cancel")).status_code == 403
        cancelled = await analyst.post(f"/api/v1/retro-hunts/{queued_id}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"

        # The running one stops after its page: what it matched so far is raised, no more pages.
        asked = await analyst.post(f"/api/v1/retro-hunts/{running['id']}/cancel")
        assert asked.status_code == 200 and asked.json()["cancel_requested"] is True
        stopped = await job_when(viewer, running["id"], "cancelled")
        assert stopped["events_scanned"] == 5 and stopped["alerts_raised"] == 5 and stopped["cancelled_by"] == "analyst"
        assert (await analyst.post(f"/api/v1/retro-hunts/{running['id']}/cancel")).status_code == 409
        assert len(await retro_alerts(api, {"indicator.id": indicator["id"]})) == 5

    await audited(api, "retro_hunt.cancel", {queued_id, running["id"]})


async def resumed_when_its_runner_is_lost(api: Any) -> None:
    """A runner taken for dead (its lease ran out, as after a crash): the next runner takes the job
    from where its earliest unwritten window starts; the first one stops without writing; every
    group is alerted once."""
    from canhgac.api.retro.runner import RetroRunner
    from canhgac.api.retro.service import jobs_index

    address = "203.0.113.79"
    hosts = [f"app{i:02d}" for i in range(7)]
    await store_events(
        api.settings,
        [ssh_event(AGENCY_A, host, address, timedelta(days=1, minutes=20 * i)) for i, host in enumerate(hosts)],
    )
    state = api.app.state.canhgac
    async with api.client("analyst") as analyst:
        indicator = (
            await analyst.post("/api/v1/intel/indicators", json={"type": "ipv4", "value": address, "reason": "x"})
        ).json()
        job_id = (await analyst.get("/api/v1/retro-hunts")).json()["items"][0]["id"]

        async def first_page_done() -> bool:
            job = (await analyst.get(f"/api/v1/retro-hunts/{job_id}")).json()
            return job["state"] == "running" and job["events_scanned"] >= 5

        await eventually(first_page_done, timeout_secs=60, interval_secs=0.3)
        # The API's runner now pauses 60 s; make it look dead.
        await state.opensearch.update(
            index=jobs_index(api.settings.opensearch),
            id=job_id,
            body={"doc": {"lease_until": "2020-01-01T00:00:00.000Z"}},
            refresh=True,
        )
        published: list[dict[str, Any]] = []

        async def publish(alert: dict[str, Any]) -> bool:
            published.append(alert)
            return True

        other = RetroRunner(state.opensearch, api.settings, publish)
        assert await other.run_once(asyncio.Event()) == job_id
        job = (await analyst.get(f"/api/v1/retro-hunts/{job_id}")).json()
        # Page one wrote the 4 windows it had passed; the second runner read from the 5th event on.
        assert job["state"] == "done" and job["alerts_raised"] == 7 and job["alerts_existing"] == 0, job
        assert sorted(a["host"]["name"] for a in published) == hosts[:3]
    alerts = await retro_alerts(api, {"indicator.id": indicator["id"]})
    assert sorted(a["host"]["name"] for a in alerts) == hosts


RULE = """
title: Retro marker login
id: {rule_id}
author: SOC tester
logsource: {{product: linux, service: sshd}}
detection:
  sel: {{message|contains: '{marker}'}}
  condition: sel
level: high
tags: [attack.t1078]
"""


async def rule_upload_hunts_stored_events(api: Any) -> None:
    marker = f"retro-{uuid.uuid4().hex[:8]}"
    rule_id = str(uuid.uuid4())
    await store_events(
        api.settings,
        [
            ssh_event(AGENCY_B, "his-app", "192.0.2.10", timedelta(days=5), f"Accepted key for svc {marker}"),
            ssh_event(AGENCY_B, "his-app", "192.0.2.10", timedelta(days=5), "Accepted key for svc other"),
        ],
    )
    async with api.client("admin") as admin:
        uploaded = await admin.post("/api/v1/rules", json={"yaml": RULE.format(rule_id=rule_id, marker=marker)})
        assert uploaded.status_code == 201, uploaded.text
        jobs = [j for j in (await admin.get("/api/v1/retro-hunts")).json()["items"] if j["kind"] == "rule"]
        assert [(j["rule_id"], j["trigger"]) for j in jobs] == [(rule_id, "rule.upload")]
        job = await job_when(admin, jobs[0]["id"], "done", "failed")
        assert job["state"] == "done" and job["alerts_raised"] == 1 and job["events_matched"] == 1, job
    alerts = await retro_alerts(api, {"rule.id": rule_id})
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["agency"] == AGENCY_B and alert["retro"]["kind"] == "rule" and alert["retro"]["job"] == job["id"]
    assert (
        alert["rule"]["author"] == "SOC tester"
        and alert["severity"] == "high"
        and "attack.t1078" in alert["rule"]["tags"]
    )
    assert alert["indicator"] is None and marker in alert["event"]["message"]


MISP_KEY = "misp-test-key-0123456789abcdef0123456789ab"


class MispServer:
    """What a MISP instance's restSearch answers: the attributes changed since `timestamp` (or all
    when `last` is asked), `limit` per `page`, for a request carrying the right key."""

    def __init__(self) -> None:
        self.attributes: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        since = int(body.get("timestamp") or 0)
        found = [a for a in self.attributes if int(a["timestamp"]) >= since and (not body.get("to_ids") or a["to_ids"])]
        limit, page = int(body.get("limit") or 1000), int(body.get("page") or 1)
        return {"response": {"Attribute": found[(page - 1) * limit : page * limit]}}


def attribute(kind: str, value: str, to_ids: bool, comment: str, timestamp: int) -> dict[str, Any]:
    return {
        "id": str(len(value)),
        "event_id": "42",
        "object_id": "0",
        "category": "Network activity",
        "type": kind,
        "value": value,
        "to_ids": to_ids,
        "uuid": str(uuid.uuid4()),
        "timestamp": str(timestamp),
        "distribution": "5",
        "comment": comment,
        "deleted": False,
        "Event": {"id": "42", "info": "Scanning of provincial portals", "uuid": str(uuid.uuid4()), "org_id": "1"},
        "Tag": [{"name": "tlp:amber"}, {"name": 'misp-galaxy:mitre-attack-pattern="T1595"'}],
    }


@pytest.fixture
def misp_rest() -> Iterator[tuple[str, MispServer]]:
    misp = MispServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            misp.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
            if self.headers.get("Authorization") != MISP_KEY:
                status, answer = 403, {"name": "Authentication failed.", "message": "Authentication failed."}
            elif self.path != "/attributes/restSearch":
                status, answer = 404, {"name": "Not Found"}
            else:
                status, answer = 200, misp.answer(body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port_in()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", misp
    finally:
        server.shutdown()
        server.server_close()


async def misp_rest_search_to_stream_alert(api: Any, misp_rest: tuple[str, MispServer]) -> None:
    """A MISP REST search feed (`POST /attributes/restSearch`) against a local server answering as
    MISP does, then an event through real Kafka with one of its indicators: a stream alert."""
    settings = api.settings
    url, misp = misp_rest
    now = int(datetime.now(UTC).timestamp())
    misp.attributes = [
        attribute("ip-src", "198.51.100.88", True, "portal scanner", now - 100),
        attribute("domain", "scan.bad.example", True, "", now - 90),
        attribute("ip-dst", "192.0.2.250", False, "context only", now - 80),
    ]
    async with api.client("admin") as admin:
        created = await admin.post(
            "/api/v1/intel/feeds",
            json={
                "id": "misp-rest",
                "kind": "misp_rest",
                "url": url,
                "headers": {"Authorization": MISP_KEY},
                "interval_secs": 3600,
                "confidence": 75,
            },
        )
        assert created.status_code == 201, created.text
        assert "headers" not in created.json()

        # The API's poller polls a new feed within seconds: the test waits for that first poll
        # rather than racing it with one by hand (whichever ran second asked from the cursor the
        # other had moved, and `misp.requests[-1]` was not always the poll the test made).
        async def polled() -> dict[str, Any] | None:
            listed = await admin.get("/api/v1/intel/feeds")
            if listed.status_code != 200:  # 503 while the new indicators index's shard starts
                return None
            feed = next(f for f in listed.json()["items"] if f["id"] == "misp-rest")
            return feed if feed["last_success_at"] else None

        feed = await eventually(polled, timeout_secs=30)
        assert feed["last_count"] == 2 and feed["last_error"] is None, feed
        assert len(misp.requests) == 1, misp.requests  # one poll, one page
        asked = misp.requests[0]
        assert asked["path"] == "/attributes/restSearch" and asked["auth"] == MISP_KEY
        assert asked["body"]["returnFormat"] == "json" and asked["body"]["last"] == "30d"
        assert asked["body"]["to_ids"] is True and "timestamp" not in asked["body"]

        # Polled by hand: only what changed from the newest attribute seen on, in one more request,
        # including one changed in that same second after the first poll (MISP's timestamps are
        # whole seconds), less what the first poll stored.
        misp.attributes.append(attribute("sha256", "cd" * 32, True, "dropper", now - 10))
        misp.attributes.append(attribute("domain", "same-second.bad.example", True, "", now - 90))
        second = (await admin.post("/api/v1/intel/feeds/misp-rest/poll")).json()
        assert second["status"] == "ok" and second["stored"] == 2, second
        assert len(misp.requests) == 2, misp.requests
        assert misp.requests[1]["body"]["timestamp"] == now - 90 and "last" not in misp.requests[1]["body"]
        # The poller, holding a listing from before that poll, does not fetch the feed again.
        assert await poll_if_due(api.app.state.canhgac.opensearch, settings.opensearch, "misp-rest") is None
        assert len(misp.requests) == 2, misp.requests
        listed = (await admin.get("/api/v1/intel/indicators", params={"value": "198.51.100.88", "type": "ipv4"})).json()
        item = listed["items"][0]
        assert listed["total"] == 1 and item["feed"] == "misp-rest" and item["confidence"] == 75
        assert item["reason"] == "portal scanner" and "tlp:amber" in item["tags"]

        # A wrong key is the feed's recorded error, not a crash.
        wrong = {"id": "misp-rest-bad", "kind": "misp_rest", "url": url, "headers": {"Authorization": "nope"}}
        assert (await admin.post("/api/v1/intel/feeds", json=wrong)).status_code == 201
        refused = (await admin.post("/api/v1/intel/feeds/misp-rest-bad/poll")).json()
        assert refused["status"] == "failed" and "403" in refused["error"] and refused["stored"] == 0

    async with running_pipeline(settings) as runtime:
        assert runtime.collector is not None
        await eventually(lambda: detector_has(runtime, "198.51.100.88"), timeout_secs=30)
        await send_lines("127.0.0.1", runtime.collector.port, [ssh_line("portal-web01", "198.51.100.88")])
        alerts = await eventually(lambda: intel_alerts(settings, "198.51.100.88"), timeout_secs=40)
        alert = alerts[0]
        assert alert["indicator"]["feed"] == "misp-rest" and alert["indicator"]["confidence"] == 75
        assert alert["indicator"]["reason"] == "portal scanner" and alert["host"]["name"] == "portal-web01"
        assert alert.get("retro") is None  # raised on the stream
