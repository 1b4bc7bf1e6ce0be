"""Onboarding through the API (issue 16, item 5): a declared source's shipper configurations with
its key filled in — the rsyslog and syslog-ng ones pass the real daemons' own configuration checks
— and the "first event received" / last hour's parse-error check, on the real OpenSearch."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import eventually
from tests.integration.api.conftest import AGENCY_A, AGENCY_B, iso
from tests.integration.shippers import Rsyslogd, SyslogNg

pytestmark = pytest.mark.integration


def rsyslog_check(config: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    """`rsyslogd -N1` (check the configuration and exit) on the generated file, in a private setup."""
    shipper = Rsyslogd(workdir, config)
    return subprocess.run(
        ["rsyslogd", "-N1", "-f", str(shipper.config_path)], capture_output=True, text=True, timeout=60, check=False
    )


def syslog_ng_check(config: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    shipper = SyslogNg(workdir, config)
    return subprocess.run(
        [*shipper.command(), "--syntax-only"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=shipper.env(),
    )


async def test_onboarding_configs_and_first_event_check(api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """One test (one API set-up): the configurations, then the first-event check."""
    await configs_carry_the_key_and_pass_the_daemons_checks(api, tmp_path)
    await first_event_and_the_last_hours_parse_error_rate(api)


async def configs_carry_the_key_and_pass_the_daemons_checks(api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    body = {"id": "ubnd-web01", "agency": AGENCY_A, "format": "syslog", "allowed_addresses": ["10.9.8.7"]}
    async with api.client("admin") as admin, api.client("agency_viewer") as own:
        created = await admin.post("/api/v1/sources", json=body)
        assert created.status_code == 201, created.text
        key = created.json()["ingest_key"]
        answer = await admin.post("/api/v1/sources/ubnd-web01/shipper-configs", json={"ingest_key": key})
        assert answer.status_code == 200, answer.text
        got = answer.json()
        assert got["key_filled"] and got["allowed_addresses"] == ["10.9.8.7/32"]
        configs = {c["shipper"]: c for c in got["items"]}
        assert set(configs) == {"rsyslog", "syslog-ng", "nxlog", "winlogbeat", "fluent-bit"}
        for name in ("nxlog", "winlogbeat", "fluent-bit"):
            assert key in configs[name]["text"] and configs[name]["uses_key"], name
            assert "ubnd-web01" in configs[name]["text"], name
        assert not configs["rsyslog"]["uses_key"] and key not in configs["rsyslog"]["text"]

        # A key that is not the source's current one is never written into a configuration.
        wrong = await admin.post("/api/v1/sources/ubnd-web01/shipper-configs", json={"ingest_key": key + "x"})
        assert wrong.status_code == 400
        placeholder = await own.post("/api/v1/sources/ubnd-web01/shipper-configs", json={})
        assert placeholder.status_code == 200 and "<ingest key of source ubnd-web01>" in placeholder.text
        await admin.post("/api/v1/sources", json={**body, "id": "yte-his", "agency": AGENCY_B})
        assert (await own.post("/api/v1/sources/yte-his/shipper-configs", json={})).status_code == 404
        assert (await own.get("/api/v1/sources/yte-his/onboarding")).status_code == 404

    rsyslog = await asyncio.to_thread(rsyslog_check, configs["rsyslog"]["text"], tmp_path / "rsyslog")
    assert rsyslog.returncode == 0, rsyslog.stdout + rsyslog.stderr
    syslog_ng = await asyncio.to_thread(syslog_ng_check, configs["syslog-ng"]["text"], tmp_path / "syslog-ng")
    assert syslog_ng.returncode == 0, syslog_ng.stdout + syslog_ng.stderr
    # The checks can fail: a broken file is refused by both.
    broken = await asyncio.to_thread(
        rsyslog_check, configs["rsyslog"]["text"].replace('port="', 'prt="'), tmp_path / "b1"
    )
    assert broken.returncode != 0
    broken = await asyncio.to_thread(
        syslog_ng_check, configs["syslog-ng"]["text"].replace("port(", "prt("), tmp_path / "b2"
    )
    assert broken.returncode != 0


async def first_event_and_the_last_hours_parse_error_rate(api) -> None:  # type: ignore[no-untyped-def]
    from canhgac.core.store import events_index, make_client

    os_client = make_client(api.settings.opensearch, component="admin")  # writes events as the indexer does
    body = {"id": "ubnd-fw01", "agency": AGENCY_A, "format": "fortigate"}
    async with api.client("admin") as admin, api.client("agency_viewer") as own:
        assert (await admin.post("/api/v1/sources", json=body)).status_code == 201
        status = (await own.get("/api/v1/sources/ubnd-fw01/onboarding")).json()
        assert status["received"] is False and status["first_event_at"] is None
        assert status["last_hour_parse_error_rate"] is None

        now = datetime.now(UTC)
        prefix = api.settings.opensearch.index_prefix
        docs = [  # two parsed this hour, one refused by the parser this hour, one parsed 2 hours ago
            (events_index(prefix, "fortigate"), "event", now - timedelta(minutes=1)),
            (events_index(prefix, "fortigate"), "event", now - timedelta(minutes=2)),
            (events_index(prefix, "pipeline_error"), "pipeline_error", now - timedelta(minutes=3)),
            (events_index(prefix, "fortigate"), "event", now - timedelta(hours=2)),
        ]
        for n, (index, kind, at) in enumerate(docs):
            doc = {
                "@timestamp": iso(at),
                "message": f"line {n}",
                "event": {"id": f"fw-{n}", "kind": kind, "ingested": iso(at)},
                "canhgac": {"agency": AGENCY_A, "source_id": "ubnd-fw01", "dataset": "fortigate"},
            }
            await os_client.index(index=index, body=doc, op_type="create")
        await os_client.indices.refresh(index=f"{prefix}.*")

        async def received() -> dict | None:
            got = (await own.get("/api/v1/sources/ubnd-fw01/onboarding")).json()
            return got if got["events_total"] == 4 else None

        status = await eventually(received, timeout_secs=20)
        assert status["received"] is True
        assert status["first_event_at"] == iso(now - timedelta(hours=2))
        assert status["last_event_at"] == iso(now - timedelta(minutes=1))
        assert (status["last_hour_events"], status["last_hour_parse_errors"]) == (3, 1)
        assert status["last_hour_parse_error_rate"] == round(1 / 3, 4)
    await os_client.close()
