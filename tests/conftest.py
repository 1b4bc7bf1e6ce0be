"""Shared fixtures. Integration and e2e tests talk to the real Kafka and OpenSearch that
deploy/local/services.sh starts (.ci/run starts them); they fail, never skip, when those are down."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
KAFKA = os.environ.get("CANHGAC_TEST_KAFKA", "127.0.0.1:19092")
OPENSEARCH = os.environ.get("CANHGAC_TEST_OPENSEARCH", "http://127.0.0.1:19200")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def real_services() -> None:
    kafka_host, kafka_port = KAFKA.rsplit(":", 1)
    os_host, os_port = OPENSEARCH.split("//", 1)[1].rsplit(":", 1)
    missing = [
        n
        for n, ok in (
            ("Kafka " + KAFKA, _reachable(kafka_host, int(kafka_port))),
            ("OpenSearch " + OPENSEARCH, _reachable(os_host, int(os_port))),
        )
        if not ok
    ]
    if missing:
        pytest.fail(f"{', '.join(missing)} not reachable: start them with deploy/local/services.sh start")


@pytest.fixture
def run_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def test_settings(real_services: None, run_id: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Settings isolated per test: own topics, own data streams and alerts index."""
    from canhgac.core.config import Settings

    return Settings(
        kafka={
            "bootstrap_servers": KAFKA,
            "topics": {
                "raw": f"t{run_id}.raw.v1",
                "events": f"t{run_id}.events.v1",
                "alerts": f"t{run_id}.alerts.v1",
                "dlq": f"t{run_id}.dlq.v1",
                "partitions": 2,
                # One broker and one OpenSearch node: the single-node values (production: 3, 2, 1).
                "replication_factor": 1,
                "min_insync_replicas": 1,
            },
            "client_id": f"canhgac-test-{run_id}",
            "group_prefix": f"t{run_id}",
        },
        opensearch={
            "url": OPENSEARCH,
            "index_prefix": f"logs-t{run_id}",
            "alerts_index": f"alerts-t{run_id}",
            "sources_index": f"sources-t{run_id}",
            "config_index_prefix": f"config-t{run_id}",
            "audit_index": f"audit-t{run_id}",
            "number_of_replicas": 0,
        },
        collectors={"syslog_tcp": {"host": "127.0.0.1", "port": 0, "default_agency": "so-tttt"}},
        api={"host": "127.0.0.1", "port": free_port()},
        # Processes without the API serve /metrics here; any free port, so tests never collide.
        metrics_listener={"host": "127.0.0.1", "port": 0},
        pipeline={
            "normalizer": {"max_batch_records": 200, "fetch_timeout_ms": 50},
            "indexer": {"max_batch_records": 200, "fetch_timeout_ms": 50},
            "detector": {"max_batch_records": 200, "fetch_timeout_ms": 50},
            "alert_indexer": {"max_batch_records": 200, "fetch_timeout_ms": 50},
        },
        rules={"reload_interval_secs": 0.5},
        data_dir=str(tmp_path / "var"),
    )


async def eventually(check, timeout_secs: float = 60.0, interval_secs: float = 0.5):  # type: ignore[no-untyped-def]
    """Poll an async check until it returns a truthy value; return it, or fail with the last value."""
    deadline = asyncio.get_running_loop().time() + timeout_secs
    last = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval_secs)
    raise AssertionError(f"condition not met within {timeout_secs}s; last value: {last!r}")


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    """Tests that stop or kill the shared Kafka/OpenSearch run last, so nothing else sees it."""
    items.sort(key=lambda item: 1 if item.get_closest_marker("disruptive") else 0)
