"""HTTP ingest into the real Kafka: the native endpoint, the `_bulk` bodies shippers send, the
probes they make first, and every refusal (401/403/400/413/429/503) with its status."""

from __future__ import annotations

import base64
import gzip
import hashlib
from pathlib import Path

import httpx
import pytest
from canhgac.collectors.registry import build_collectors
from canhgac.core.config import SourceConfig
from canhgac.core.kafka import ensure_topics
from canhgac.core.metrics import Metrics

from tests.integration.collectors.helpers import read_raw

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).parent / "fixtures"
KEY, OTHER_KEY = "k-" + "a" * 40, "k-" + "b" * 40


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@pytest.fixture
async def http(test_settings):  # type: ignore[no-untyped-def]
    sources = (
        SourceConfig(id="portal", agency="so-tttt", format="syslog", ingest_key_sha256=sha(KEY)),
        SourceConfig(id="motcua", agency="vp-ubnd", format="json", ingest_key_sha256=sha(OTHER_KEY)),
        SourceConfig(id="syslog-only", agency="x", transports=("syslog_tcp",), ingest_key_sha256=sha("k-" + "c" * 40)),
    )
    settings = test_settings.model_copy(
        update={
            "sources": sources,
            "collectors": test_settings.collectors.model_copy(
                update={
                    "syslog_tcp": test_settings.collectors.syslog_tcp.model_copy(update={"enabled": False}),
                    "http": test_settings.collectors.http.model_copy(
                        update={"enabled": True, "port": 0, "max_body_bytes": 64 * 1024}
                    ),
                }
            ),
        }
    )
    await ensure_topics(settings.kafka)
    metrics = Metrics()
    (collector,) = build_collectors(settings, None, metrics)
    await collector.start()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{collector.port}", timeout=30) as client:
        yield settings, client, metrics, collector
    await collector.stop()


def basic(user: str, key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{key}".encode()).decode()}


async def test_native_formats_and_bulk_bodies_land_in_kafka(http) -> None:  # type: ignore[no-untyped-def]
    settings, client, _metrics, _ = http
    bearer = {"Authorization": f"Bearer {KEY}"}
    r = await client.post("/ingest/v1/portal", json={"msg": "one object"}, headers=bearer)
    assert r.status_code == 200 and r.json() == {"accepted": 1}
    r = await client.post(
        "/ingest/v1/portal", json=[{"msg": "a"}, {"msg": "b"}, "plain string"], headers={"X-Canhgac-Key": KEY}
    )
    assert r.json() == {"accepted": 3}
    ndjson = b'{"msg": "n1"}\n{"msg": "n2"}\n'
    r = await client.post(
        "/ingest/v1/portal", content=ndjson, headers={**bearer, "Content-Type": "application/x-ndjson"}
    )
    assert r.json() == {"accepted": 2}
    text = gzip.compress("line one\r\nline hai có dấu\n\n".encode())
    r = await client.post(
        "/ingest/v1/portal", content=text, headers={**bearer, "Content-Type": "text/plain", "Content-Encoding": "gzip"}
    )
    assert r.json() == {"accepted": 2}

    items = 0
    for name, user in (
        ("filebeat", "portal"),
        ("winlogbeat", "portal"),
        ("fluentbit", "portal"),
        ("vector", "portal"),
        ("nxlog", "motcua"),
    ):
        body = (FIXTURES / f"{name}_bulk.ndjson").read_bytes()
        key = OTHER_KEY if user == "motcua" else KEY
        r = await client.post(
            "/_bulk", content=body, headers={**basic(user, key), "Content-Type": "application/x-ndjson"}
        )
        assert r.status_code == 200, r.text
        result = r.json()
        assert result["errors"] is False
        assert all(next(iter(i.values()))["status"] == 201 for i in result["items"])
        items += len(result["items"])
    apikey = {"Authorization": "ApiKey " + base64.b64encode(f"portal:{KEY}".encode()).decode()}
    r = await client.post(
        "/logs-app/_bulk", content=b'{"index":{}}\n{"message":"via ApiKey, index in path"}\n', headers=apikey
    )
    assert r.json()["items"][0]["index"]["_index"] == "logs-app"
    items += 1

    records = await read_raw(settings, 8 + items)
    assert len(records) == 8 + items  # exactly once each
    by_text = {
        r.get("message")
        or r["payload"].get("msg")
        or r["payload"].get("message")
        or r["payload"].get("log")
        or r["payload"].get("Message")
        or r["payload"].get("winlog", {}).get("channel"): r
        for r in records
    }
    assert by_text["one object"]["payload"] == {"msg": "one object"} and by_text["one object"]["format"] == "json"
    assert (
        by_text["line hai có dấu"]["message"] == "line hai có dấu" and by_text["line hai có dấu"]["collector"] == "http"
    )
    assert by_text["Security"]["format"] == "winlogbeat"
    assert by_text["Accepted publickey for staff1 from 10.20.1.5 port 40001 ssh2"]["format"] == "filebeat"
    assert by_text["An account was successfully logged on."]["format"] == "json"  # declared by the source
    assert by_text["An account was successfully logged on."]["source_id"] == "motcua"
    assert by_text["An account was successfully logged on."]["agency"] == "vp-ubnd"


async def test_shipper_probes_are_answered_like_elasticsearch(http) -> None:  # type: ignore[no-untyped-def]
    _, client, _, _ = http
    auth = basic("portal", KEY)
    root = await client.get("/", headers=auth)
    assert root.json()["version"]["number"].startswith("7.") and root.headers["x-elastic-product"] == "Elasticsearch"
    assert (await client.head("/", headers=auth)).status_code == 200
    assert (await client.get("/_license", headers=auth)).json()["license"]["status"] == "active"
    assert (await client.get("/_xpack", headers=auth)).json()["features"]["ilm"]["available"] is True
    assert (await client.head("/_index_template/filebeat-8.15.0", headers=auth)).status_code == 200
    put = await client.put("/_index_template/filebeat-8.15.0", json={"index_patterns": ["filebeat-*"]}, headers=auth)
    assert put.json() == {"acknowledged": True}
    assert "filebeat" in (await client.get("/_ilm/policy/filebeat", headers=auth)).json()
    assert (await client.get("/_cluster/health", headers=auth)).json()["status"] == "green"
    assert (await client.get("/_cat/indices", headers=auth)).status_code == 200


async def test_refusals_have_their_status_and_are_counted(http) -> None:  # type: ignore[no-untyped-def]
    _, client, metrics, collector = http
    bearer = {"Authorization": f"Bearer {KEY}"}
    r = await client.post("/ingest/v1/portal", json={"a": 1})
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers
    assert (
        await client.post("/ingest/v1/portal", json={}, headers={"Authorization": "Bearer wrong"})
    ).status_code == 401
    assert (await client.post("/ingest/v1/nope", json={}, headers=bearer)).status_code == 401
    # A key of another source is as unknown as a wrong key (test_http_ingest_enumeration.py).
    assert (await client.post("/ingest/v1/motcua", json={}, headers=bearer)).status_code == 401
    assert (await client.post("/_bulk", content=b"{}\n", headers=basic("motcua", KEY))).status_code == 401
    only_syslog = {"Authorization": "Bearer k-" + "c" * 40}
    assert (await client.post("/ingest/v1/syslog-only", json={}, headers=only_syslog)).status_code == 403
    bad = await client.post(
        "/ingest/v1/portal", content=b'{"a": ', headers={**bearer, "Content-Type": "application/json"}
    )
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]
    r = await client.post("/_bulk", content=b'not json\n{"a":1}\n', headers=basic("portal", KEY))
    assert r.status_code == 400 and r.json()["error"]["type"] == "bad_request"
    assert (await client.post("/ingest/v1/portal", content=b"x" * 70_000, headers=bearer)).status_code == 413
    bomb = gzip.compress(b"A" * 10_000_000)  # ~10 kB that expands to 10 MB
    r = await client.post("/ingest/v1/portal", content=bomb, headers={**bearer, "Content-Encoding": "gzip"})
    assert r.status_code == 413
    # Bulk: a bad document is a per-item 400; the good one still goes in.
    r = await client.post(
        "/_bulk",
        content=b'{"index":{"_index":"i"}}\n[1]\n{"index":{"_index":"i"}}\n{"ok":1}\n',
        headers=basic("portal", KEY),
    )
    result = r.json()
    assert result["errors"] is True and [next(iter(i.values()))["status"] for i in result["items"]] == [400, 201]
    collector.app._active = collector.cfg.max_concurrent_requests  # as if that many were in progress
    busy = await client.post("/ingest/v1/portal", json={}, headers=bearer)
    collector.app._active = 0
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "5"
    dropped = {
        s.labels["reason"]: s.value
        for m in metrics.registry.collect()
        if m.name == "canhgac_events_dropped"
        for s in m.samples
        if s.name.endswith("_total") and s.labels["stage"] == "http"
    }
    assert dropped["missing_credentials"] == 1 and dropped["bad_ingest_key"] == 4
    assert "key_for_other_source" not in dropped and dropped["too_large"] == 2 and dropped["too_many_requests"] == 1
