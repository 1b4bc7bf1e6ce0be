"""A MISP REST search feed (`POST /attributes/restSearch`) against a local HTTP server that answers
as MISP does, then an event through real Kafka with one of its indicators: a stream alert naming
the indicator and its feed (issue 15 item 2)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from canhgac.demo_feed import send_lines
from tests.conftest import eventually
from tests.integration.api.test_intel_feeds import (
    detector_has,
    free_port_in,
    intel_alerts,
    running_pipeline,
    ssh_line,
)

pytestmark = pytest.mark.e2e

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


async def test_misp_rest_search_to_stream_alert(api, misp_rest: tuple[str, MispServer]) -> None:  # type: ignore[no-untyped-def]
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
        first = (await admin.post("/api/v1/intel/feeds/misp-rest/poll")).json()
        assert first["status"] == "ok" and first["stored"] == 2, first
        asked = misp.requests[-1]
        assert asked["path"] == "/attributes/restSearch" and asked["auth"] == MISP_KEY
        assert asked["body"]["returnFormat"] == "json" and asked["body"]["last"] == "30d"
        assert asked["body"]["to_ids"] is True and "timestamp" not in asked["body"]

        # Next poll: only what changed since the newest attribute seen.
        misp.attributes.append(attribute("sha256", "cd" * 32, True, "dropper", now - 10))
        second = (await admin.post("/api/v1/intel/feeds/misp-rest/poll")).json()
        assert second["stored"] == 1 and misp.requests[-1]["body"]["timestamp"] == now - 90 + 1
        assert "last" not in misp.requests[-1]["body"]
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
