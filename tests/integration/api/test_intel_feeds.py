"""Threat intel end to end on the real servers: indicators from a real TAXII 2.1 server (medallion),
from MISP feed files over HTTP and from a CSV import reach the store (real OpenSearch, through the
API), the detector loads them, and an event through real Kafka carrying one raises an alert that
names the indicator, its feed and confidence. Expiring an indicator stops its matches."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from canhgac.core.store import make_client
from canhgac.pipeline.detector import DetectorStage

from canhgac.demo_feed import send_lines
from canhgac.runtime import Runtime
from tests.conftest import eventually

pytestmark = pytest.mark.e2e

TAXII = "application/taxii+json;version=2.1"
COLLECTION = "365fed99-08fa-fdcd-a1b3-fb247eb41d01"


def free_port_in(low: int = 23000, high: int = 23999) -> int:
    for _ in range(200):
        port = random.randint(low, high)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 23000-23999")


@pytest.fixture
def medallion(tmp_path: Path) -> Iterator[str]:
    """A real TAXII 2.1 server (medallion, memory backend) with one writable collection; yields its
    API root URL. User `soc`, password `taxii-secret`."""
    port = free_port_in()
    root = f"http://127.0.0.1:{port}/api1/"
    data = {
        "/discovery": {"title": "test TAXII", "default": root, "api_roots": [root]},
        "api1": {
            "information": {"title": "bulletins", "versions": [TAXII], "max_content_length": 10_485_760},
            "status": [],
            "collections": [
                {
                    "id": COLLECTION,
                    "title": "National bulletins",
                    "can_read": True,
                    "can_write": True,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": [],
                    "manifest": [],
                }
            ],
        },
    }
    (tmp_path / "data.json").write_text(json.dumps(data))
    config = {
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": str(tmp_path / "data.json"),
        },
        "users": {"soc": "taxii-secret"},
        "taxii": {"max_page_size": 100},
    }
    (tmp_path / "medallion.json").write_text(json.dumps(config))
    medallion_bin = Path(sys.executable).with_name("medallion")
    proc = subprocess.Popen(
        [str(medallion_bin), "--host", "127.0.0.1", "--port", str(port), str(tmp_path / "medallion.json")],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "medallion.log", "w"),
    )
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/taxii2/", timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None:
                    raise RuntimeError((tmp_path / "medallion.log").read_text()) from None
                threading.Event().wait(0.2)
        yield root
    finally:
        proc.terminate()
        proc.wait(10)


def stix_indicator(pattern: str, name: str, confidence: int) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": now,
        "modified": now,
        "name": name,
        "indicator_types": ["malicious-activity"],
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": now,
        "confidence": confidence,
        "external_references": [{"source_name": "mitre-attack", "external_id": "T1110"}],
    }


def publish_to_taxii(root: str, objects: list[dict[str, Any]]) -> None:
    """What the national centre does: add objects to the collection (TAXII 2.1 POST)."""
    response = httpx.post(
        f"{root}collections/{COLLECTION}/objects/",
        json={"objects": objects},
        headers={"Accept": TAXII, "Content-Type": TAXII},
        auth=("soc", "taxii-secret"),
        timeout=10,
    )
    assert response.status_code == 202, response.text


@pytest.fixture
def misp_feed(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A directory served over HTTP as MISP publishes a feed; yields (its URL, the directory)."""
    folder = tmp_path / "misp-feed"
    folder.mkdir()
    port = free_port_in()
    handler = partial(SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined, method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/", folder
    finally:
        server.shutdown()
        server.server_close()


def write_misp_event(folder: Path, attributes: list[dict[str, Any]], info: str, timestamp: str | None = None) -> str:
    """One event file and its manifest entry, in MISP's feed format (`<uuid>.json` + manifest.json)."""
    event_uuid = str(uuid.uuid4())
    timestamp = timestamp or str(int(datetime.now(UTC).timestamp()))
    event = {
        "Event": {
            "uuid": event_uuid,
            "info": info,
            "date": datetime.now(UTC).date().isoformat(),
            "timestamp": timestamp,
            "publish_timestamp": timestamp,
            "published": True,
            "analysis": "2",
            "threat_level_id": "1",
            "Orgc": {"name": "CIRCL-like test org", "uuid": str(uuid.uuid4())},
            "Tag": [{"name": "tlp:green", "colour": "#33FF00"}],
            "Attribute": [
                {"uuid": str(uuid.uuid4()), "timestamp": timestamp, "category": "Network activity", **a}
                for a in attributes
            ],
            "Object": [],
        }
    }
    (folder / f"{event_uuid}.json").write_text(json.dumps(event))
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest[event_uuid] = {
        "info": info,
        "date": event["Event"]["date"],
        "analysis": 2,
        "threat_level_id": 1,
        "timestamp": timestamp,
        "Orgc": event["Event"]["Orgc"],
        "Tag": event["Event"]["Tag"],
    }
    manifest_path.write_text(json.dumps(manifest))
    return event_uuid


@asynccontextmanager
async def running_pipeline(settings: Any) -> AsyncIterator[Runtime]:
    runtime = Runtime(settings, stages=("normalizer", "detector", "alert-indexer"), api=False)
    task = asyncio.create_task(runtime.run())
    await asyncio.wait_for(runtime.started.wait(), 120)
    try:
        yield runtime
    finally:
        runtime.request_stop()
        await asyncio.wait_for(task, 60)


def ssh_line(host: str, address: str, second: int = 0) -> str:
    ts = (datetime.now(UTC) - timedelta(seconds=30 - second)).isoformat(timespec="milliseconds")
    ts = ts.replace("+00:00", "Z")
    return f"<38>1 {ts} {host} sshd {4000 + second} - - Accepted password for deploy from {address} port 40{second:03d} ssh2"


async def intel_alerts(settings: Any, value: str) -> list[dict[str, Any]]:
    client = make_client(settings.opensearch, component="admin")
    try:
        await client.indices.refresh(index=settings.opensearch.alerts_index, ignore_unavailable=True)
        found = await client.search(
            index=settings.opensearch.alerts_index,
            body={"size": 50, "query": {"term": {"indicator.value": value}}},
            ignore_unavailable=True,
        )
        return [h["_source"] for h in found["hits"]["hits"]]
    finally:
        await client.close()


async def detector_has(runtime: Runtime, value: str) -> bool:
    detector = next(s for s in runtime.stages if isinstance(s, DetectorStage))
    return bool(detector.intel.lookup_ip(value))


async def test_taxii_poll_to_alert(api, medallion: str) -> None:  # type: ignore[no-untyped-def]
    """The feed is polled on its schedule (no manual poll): medallion -> store -> detector -> alert."""
    settings = api.settings
    publish_to_taxii(
        medallion,
        [
            stix_indicator("[ipv4-addr:value = '203.0.113.45']", "SSH brute-force source (bulletin 7/2026)", 85),
            stix_indicator("[domain-name:value = 'c2.bad.example']", "C2 domain", 70),
            stix_indicator("[ipv4-addr:value = '1.2.3.4' AND network-traffic:dst_port = 22]", "not expressible", 50),
        ],
    )
    async with api.client("admin") as admin:
        created = await admin.post(
            "/api/v1/intel/feeds",
            json={
                "id": "ncsc-taxii",
                "kind": "taxii",
                "url": medallion,
                "collection": COLLECTION,
                "username": "soc",
                "password": "taxii-secret",
                "interval_secs": 3600,
                "confidence": 40,
            },
        )
        assert created.status_code == 201, created.text
        assert "password" not in created.json() and created.json()["stale"] is False

        async def polled() -> dict[str, Any] | None:
            listed = await admin.get("/api/v1/intel/feeds")
            if listed.status_code != 200:  # 503 while the new indicators index's shard starts on a busy node
                return None
            feed = listed.json()["items"][0]
            return feed if feed["last_success_at"] else None

        feed = await eventually(polled, timeout_secs=30)
        assert feed["last_count"] == 2 and feed["indicator_count"] == 2 and feed["last_error"] is None
        listed = (await admin.get("/api/v1/intel/indicators", params={"feed": "ncsc-taxii"})).json()
        assert {(i["type"], i["value"], i["confidence"]) for i in listed["items"]} == {
            ("ipv4", "203.0.113.45", 85),
            ("domain", "c2.bad.example", 70),
        }
        # Polled again: only what is new since the cursor, none of it twice.
        again = (await admin.post("/api/v1/intel/feeds/ncsc-taxii/poll")).json()
        assert again["status"] == "ok" and again["stored"] == 0

    async with running_pipeline(settings) as runtime:
        assert runtime.collector is not None
        await eventually(lambda: detector_has(runtime, "203.0.113.45"), timeout_secs=20)
        await send_lines("127.0.0.1", runtime.collector.port, [ssh_line("dc-web01", "203.0.113.45")])
        alerts = await eventually(lambda: intel_alerts(settings, "203.0.113.45"), timeout_secs=30)
        alert = alerts[0]
        assert alert["indicator"]["feed"] == "ncsc-taxii" and alert["indicator"]["confidence"] == 85
        assert alert["indicator"]["field"] == "source.ip" and alert["indicator"]["type"] == "ipv4"
        assert alert["rule"]["title"] == "Threat intel: ipv4 203.0.113.45" and "attack.t1110" in alert["rule"]["tags"]
        assert alert["agency"] == "so-tttt" and alert["host"]["name"] == "dc-web01"
    async with api.client("analyst") as analyst:
        shown = (await analyst.get(f"/api/v1/alerts/{alert['id']}")).json()
        assert shown["indicator"]["value"] == "203.0.113.45"


async def test_misp_feed_over_http_to_alert(api, misp_feed: tuple[str, Path]) -> None:  # type: ignore[no-untyped-def]
    settings = api.settings
    url, folder = misp_feed
    first = write_misp_event(
        folder,
        [
            {"type": "ip-src", "value": "198.51.100.23", "to_ids": True, "comment": "scanner"},
            {"type": "domain", "value": "phish.bad.example", "to_ids": True},
            {"type": "ip-dst", "value": "192.0.2.200", "to_ids": False},
        ],
        "Phishing wave against provincial agencies",
    )
    async with api.client("admin") as admin:
        created = await admin.post(
            "/api/v1/intel/feeds",
            # Disabled: polled by hand only. Enabled, the API's poller polls a new feed within
            # seconds, and when it came first the poll below found nothing new (stored 0).
            json={"id": "misp-circl", "kind": "misp", "url": url, "confidence": 60, "enabled": False},
        )
        assert created.status_code == 201, created.text
        result = (await admin.post("/api/v1/intel/feeds/misp-circl/poll")).json()
        assert result["status"] == "ok" and result["stored"] == 2, result
        assert result["skipped"] == {"not for detection (to_ids off)": 1}
        # A new event in the feed, written in the same second as the one the poll saw (MISP's
        # timestamps are whole seconds; CI once wrote it so, and the poll skipped it for ever):
        # the next poll fetches only it.
        stamp = json.loads((folder / "manifest.json").read_text())[first]["timestamp"]
        write_misp_event(folder, [{"type": "sha256", "value": "ab" * 32, "to_ids": True}], "Dropper", stamp)
        second = (await admin.post("/api/v1/intel/feeds/misp-circl/poll")).json()
        assert second["stored"] == 1, second
        assert (await admin.post("/api/v1/intel/feeds/misp-circl/poll")).json()["stored"] == 0
        listed = (await admin.get("/api/v1/intel/indicators", params={"value": "198.51.100.23", "type": "ipv4"})).json()
        assert listed["total"] == 1 and listed["items"][0]["severity"] == "high"
        assert "tlp:green" in listed["items"][0]["tags"]

    async with running_pipeline(settings) as runtime:
        assert runtime.collector is not None
        await eventually(lambda: detector_has(runtime, "198.51.100.23"), timeout_secs=20)
        await send_lines("127.0.0.1", runtime.collector.port, [ssh_line("dc-db02", "198.51.100.23")])
        alerts = await eventually(lambda: intel_alerts(settings, "198.51.100.23"), timeout_secs=30)
        assert alerts[0]["indicator"]["feed"] == "misp-circl" and alerts[0]["indicator"]["confidence"] == 60
        assert alerts[0]["indicator"]["reason"] == "scanner" and alerts[0]["severity"] == "high"


async def test_csv_import_and_expiry_stop_matches(api) -> None:  # type: ignore[no-untyped-def]
    settings = api.settings
    csv_text = (
        "type,value,confidence,severity,tags,reason\n"
        "ipv4,203.0.113.61,90,critical,bruteforce,bulletin 12/2026\n"
        ",203.0.113.62,,,,\n"
        "md5,not-a-hash,,,,\n"
    )
    async with api.client("analyst") as analyst, api.client("viewer") as viewer:
        imported = await analyst.post(
            "/api/v1/intel/import", json={"format": "csv", "content": csv_text, "feed": "bulletin-12-2026"}
        )
        assert imported.status_code == 200, imported.text
        assert imported.json()["stored"] == 2 and sum(imported.json()["skipped"].values()) == 1
        refused = await viewer.post(
            "/api/v1/intel/import", json={"format": "plain", "content": "203.0.113.99", "feed": "x"}
        )
        assert refused.status_code == 403
        items = (await viewer.get("/api/v1/intel/indicators", params={"feed": "bulletin-12-2026"})).json()["items"]
        first = next(i for i in items if i["value"] == "203.0.113.61")
        assert first["severity"] == "critical" and first["confidence"] == 90 and first["active"]

    async with running_pipeline(settings) as runtime:
        assert runtime.collector is not None
        await eventually(lambda: detector_has(runtime, "203.0.113.61"), timeout_secs=20)
        await send_lines("127.0.0.1", runtime.collector.port, [ssh_line("hq-web01", "203.0.113.61", 1)])
        alerts = await eventually(lambda: intel_alerts(settings, "203.0.113.61"), timeout_secs=30)
        assert alerts[0]["indicator"]["feed"] == "bulletin-12-2026" and alerts[0]["severity"] == "critical"

        async with api.client("analyst") as analyst:
            expired = await analyst.post(f"/api/v1/intel/indicators/{first['id']}/expire", json={"reason": "cleared"})
            assert expired.status_code == 200 and expired.json()["active"] is False
        await eventually(lambda: _not(detector_has(runtime, "203.0.113.61")), timeout_secs=20)
        # The same address from another host (a new alert if it still matched), then a marker event
        # on the other, live indicator: once the marker's alert is in, the expired one had its chance.
        await send_lines(
            "127.0.0.1",
            runtime.collector.port,
            [ssh_line("hq-web02", "203.0.113.61", 2), ssh_line("hq-web02", "203.0.113.62", 3)],
        )
        await eventually(lambda: intel_alerts(settings, "203.0.113.62"), timeout_secs=30)
        after = await intel_alerts(settings, "203.0.113.61")
        assert [a["host"]["name"] for a in after] == ["hq-web01"]

    async with api.client("admin") as admin:
        audit = (await admin.get("/api/v1/audit", params={"target_id": first["id"]})).json()["items"]
        assert [a["action"] for a in audit] == ["indicator.expire"]


async def _not(check: Any) -> bool:
    return not await check


async def test_feed_failing_goes_stale_with_one_alert(api) -> None:  # type: ignore[no-untyped-def]
    """A feed that cannot be reached records its error, turns stale after `stale_after_secs` and
    raises one 'feed stale' alert per outage, whatever the number of poller rounds."""
    from canhgac.api.intel.feeds import stale_alert
    from canhgac.api.intel.poller import poll_due
    from canhgac.core.index import Index

    dead_port = free_port_in()  # nothing listens there
    async with api.client("admin") as admin:
        created = await admin.post(
            "/api/v1/intel/feeds",
            json={
                "id": "dead-misp",
                "kind": "misp",
                "url": f"http://127.0.0.1:{dead_port}/",
                "interval_secs": 1,
                "stale_after_secs": 1,
            },
        )
        assert created.status_code == 201, created.text
        published: list[dict[str, Any]] = []

        async def publish(alert: dict[str, Any]) -> bool:
            published.append(alert)
            return True

        state = api.app.state.canhgac
        await asyncio.sleep(1.2)
        for _ in range(3):
            await poll_due(state.opensearch, api.settings.opensearch, publish)
        feed = (await admin.get("/api/v1/intel/feeds")).json()["items"][0]
        assert feed["stale"] is True and feed["last_success_at"] is None
        assert "ConnectError" in feed["last_error"]
        # The API's own poller runs meanwhile: whichever poller recorded the alert raised it, once.
        recorded = (await Index(state.opensearch, api.settings.opensearch.intel_feeds_index).get("dead-misp"))[
            "stale_alert"
        ]
        assert recorded and [a["id"] for a in published] in ([], [recorded])
        alert = stale_alert(feed | {"url": "x", "interval_secs": 1}, datetime.now(UTC), datetime.now(UTC))
        assert alert["rule"]["id"] == "canhgac-intel-feed-stale" and alert["agency"] == "soc"
        assert alert["canhgac"]["group"] == {"feed": "dead-misp"}
