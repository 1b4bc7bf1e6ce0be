"""Shared fixtures. Integration and e2e tests talk to the real Kafka and OpenSearch that
deploy/local/services.sh starts (.ci/run starts them); they fail, never skip, when those are down.

How to reach them (addresses, TLS, each component's credentials) comes from the settings file
services.sh writes, `$CANHGAC_RUN_DIR/canhgac.yml` (CANHGAC_TEST_SERVICES names another one), so
the tests run as each component's own principal against the secured services. CANHGAC_TEST_KAFKA
and CANHGAC_TEST_OPENSEARCH override the addresses."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
RUN_DIR = Path(os.environ.get("CANHGAC_RUN_DIR", "/var/tmp/canhgac-run"))
SERVICES_FILE = Path(os.environ.get("CANHGAC_TEST_SERVICES", str(RUN_DIR / "canhgac.yml")))


def _services() -> dict[str, Any]:
    """The services' settings (kafka, opensearch sections), or {} for services started before
    services.sh wrote them (unsecured, default addresses)."""
    try:
        loaded = yaml.safe_load(SERVICES_FILE.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


SERVICES = _services()
KAFKA = os.environ.get("CANHGAC_TEST_KAFKA") or SERVICES.get("kafka", {}).get("bootstrap_servers", "127.0.0.1:19092")
OPENSEARCH = os.environ.get("CANHGAC_TEST_OPENSEARCH") or SERVICES.get("opensearch", {}).get(
    "url", "http://127.0.0.1:19200"
)
SECURED = "security" in SERVICES.get("kafka", {})


# Ports for the servers tests start: below the kernel's ephemeral range (32768+, where every
# client connection, e.g. to Kafka, takes its local port, so a port asked from the kernel can be
# taken again before the test binds it) and one slice per pytest-xdist worker, so two workers never
# pick the same port. Clear of the services (19092, 19200), cluster.sh (23400+) and the chaos
# test (23500-23999).
_PORT_LOW, _PORT_SLICE = 24000, 2000
_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw3").removeprefix("gw")  # not under xdist: its own slice
_port_slice = int(_worker) % 4 if _worker.isdigit() else 3
_port_next = _PORT_LOW + _port_slice * _PORT_SLICE + (os.getpid() % _PORT_SLICE)


def free_port() -> int:
    """A port nobody listens on now, from this worker's slice, not handed out before in this process."""
    global _port_next
    base = _PORT_LOW + _port_slice * _PORT_SLICE
    for _ in range(_PORT_SLICE):
        port = _port_next
        _port_next = base + (_port_next - base + 1) % _PORT_SLICE
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {base}-{base + _PORT_SLICE - 1}")


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

    # Names extend the defaults (canhgac.raw.v1 -> canhgac.raw.v1.t<run>, logs-canhgac ->
    # logs-canhgac-t<run>, ...): the services' Kafka ACLs and OpenSearch roles are prefixes of the
    # default names, so each component's principal has exactly its production rights on them.
    return Settings(
        kafka={
            **SERVICES.get("kafka", {}),
            "bootstrap_servers": KAFKA,
            "topics": {
                "raw": f"canhgac.raw.v1.t{run_id}",
                "events": f"canhgac.events.v1.t{run_id}",
                "alerts": f"canhgac.alerts.v1.t{run_id}",
                "dlq": f"canhgac.dlq.v1.t{run_id}",
                "correlation": f"canhgac.correlation-input.v1.t{run_id}",
                "correlation_state": f"canhgac.correlation-state.v1.t{run_id}",
                "notifier_state": f"canhgac.notifier-state.v1.t{run_id}",
                "notify_routes": f"canhgac.notify-routes.v1.t{run_id}",
                "partitions": 2,
                # One broker and one OpenSearch node: the single-node values (production: 3, 2, 1).
                "replication_factor": 1,
                "min_insync_replicas": 1,
            },
            "client_id": f"canhgac-test-{run_id}",
            "group_prefix": f"canhgac-t{run_id}",
        },
        opensearch={
            **SERVICES.get("opensearch", {}),
            "url": OPENSEARCH,
            "index_prefix": f"logs-canhgac-t{run_id}",
            "alerts_index": f"canhgac-alerts-t{run_id}",
            "sources_index": f"canhgac-sources-t{run_id}",
            "config_index_prefix": f"canhgac-config-t{run_id}",
            "audit_index": f"canhgac-audit-t{run_id}",
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


# The files of the tests marked serial (syslog-ng keeps its disk buffers in the machine-wide
# /var/lib/syslog-ng): pytest-xdist runs them as one unit of work, one after another
# (pytest_xdist_make_scheduler); pytest_collection_modifyitems keeps this list true to the markers.
SERIAL_FILES = frozenset(
    {
        "tests/integration/test_shippers_docs.py",
        "tests/integration/collectors/test_shipper_tls.py",
        "tests/integration/collectors/test_tcp_restart.py",
    }
)


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    """Tests that stop or kill the shared Kafka/OpenSearch run last, so nothing else sees it."""
    items.sort(key=lambda item: 1 if item.get_closest_marker("disruptive") else 0)
    unlisted = {i.nodeid.split("::")[0] for i in items if i.get_closest_marker("serial")} - SERIAL_FILES
    if unlisted:
        raise pytest.UsageError(f"tests marked serial in files missing from tests/conftest.py SERIAL_FILES: {unlisted}")


def pytest_xdist_make_scheduler(config, log):  # type: ignore[no-untyped-def]
    """`--dist loadfile`, with the serial files as one unit (xdist's own loadgroup does not work
    with pytest 9: it renames node ids through an attribute pytest no longer reads)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FileOrSerialScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "serial" if path in SERIAL_FILES else path

    return FileOrSerialScheduling(config, log)
