"""Signed daily receipts on the real Kafka and OpenSearch: syslog through the collector, normaliser
and indexer; the day sealed by `canhgac receipts seal`; the owning agency reads and verifies it
through the API, another agency cannot; a changed, a deleted record and an edited receipt break it."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.conftest import eventually
from tests.integration.api.conftest import AGENCY_A, AGENCY_B, PASSWORD

pytestmark = pytest.mark.integration

N = 40


@pytest.fixture
def api_settings(test_settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    key_file = tmp_path / "receipt.key"
    key_file.write_bytes(secrets.token_bytes(32))
    os.chmod(key_file, 0o600)
    return test_settings.model_copy(
        update={"receipts": test_settings.receipts.model_copy(update={"signing_key_file": str(key_file)})}
    )


def cli(settings: Any, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "canhgac.yml"
    config.write_text(yaml.safe_dump(settings.model_dump(mode="json")), encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "canhgac", "--config", str(config), "receipts", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def feed(settings: Any) -> None:
    """N syslog lines from the development default source (agency so-tttt) into OpenSearch."""
    from canhgac.core.store import make_client

    from canhgac.demo_feed import send_lines
    from canhgac.runtime import Runtime

    runtime = Runtime(settings, stages=("normalizer", "indexer"), api=False)
    task = asyncio.create_task(runtime.run())
    await asyncio.wait_for(runtime.started.wait(), 120)
    try:
        assert runtime.collector is not None and runtime.collector.port
        lines = [f"<14>Nov 26 09:00:{i % 60:02d} motcua-web{i % 3} sshd[{i}]: receipt record {i}" for i in range(N)]
        await send_lines("127.0.0.1", runtime.collector.port, lines)
        client = make_client(settings.opensearch, component="admin")
        pattern = f"{settings.opensearch.index_prefix}.*"

        async def stored() -> bool:
            await client.indices.refresh(index=pattern, allow_no_indices=True)
            body = {"query": {"term": {"canhgac.source_id": "syslog-default"}}}
            return int((await client.count(index=pattern, body=body, allow_no_indices=True))["count"]) == N

        try:
            await eventually(stored, timeout_secs=90)
        finally:
            await client.close()
    finally:
        runtime.request_stop()
        await asyncio.wait_for(task, 60)


async def agency_token(api: Any, agency: str) -> str:
    from canhgac.api.auth import service as auth_service
    from canhgac.api.users.models import UserCreate
    from canhgac.api.users.service import create_user

    state = api.app.state.canhgac
    cfg = api.settings.opensearch
    name = f"viewer-{agency}"
    await create_user(
        state.opensearch,
        cfg.users_index,
        UserCreate(username=name, role="agency_viewer", agency=agency, password=PASSWORD),
        by="test",
    )
    secret, _ = await auth_service.issue(
        state.opensearch, cfg.sessions_index, kind="token", username=name, ttl_secs=600
    )
    return secret


async def test_receipt_seals_verifies_and_breaks_on_changes(api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from canhgac.api.audit.chain import anchors_index
    from canhgac.core.receipts import receipts_index
    from canhgac.core.store import make_client

    settings = api.settings
    await feed(settings)
    day = datetime.now(UTC).astimezone(ZoneInfo(settings.timezone)).date().isoformat()

    sealed = cli(settings, tmp_path, "seal", "--day", day)
    assert sealed.returncode == 0, sealed.stdout + sealed.stderr
    assert f"sealed syslog-default:{day}: {N} records" in sealed.stdout
    again = cli(settings, tmp_path, "seal", "--day", day)  # a sealed day keeps its receipt
    assert "0 receipts sealed" in again.stdout

    async with api.client("agency_viewer") as owner:
        listed = (await owner.get("/api/v1/receipts")).json()["items"]
        assert [(r["source_id"], r["day"], r["agency"], r["count"]) for r in listed] == [
            ("syslog-default", day, AGENCY_A, N)
        ]
        checked = await owner.get(f"/api/v1/receipts/syslog-default/{day}")
        assert checked.status_code == 200, checked.text
        assert checked.json()["ok"] is True and checked.json()["problems"] == []
        receipt = checked.json()["receipt"]
        assert receipt["first_ingested"] <= receipt["last_ingested"] and len(receipt["signature"]) == 64
    other = api.client()
    other.headers["Authorization"] = f"Bearer {await agency_token(api, AGENCY_B)}"
    async with other:
        assert (await other.get("/api/v1/receipts")).json()["items"] == []
        assert (await other.get(f"/api/v1/receipts/syslog-default/{day}")).status_code == 404
    assert cli(settings, tmp_path, "verify", "--source", "syslog-default", "--day", day).returncode == 0

    admin = make_client(settings.opensearch, component="admin")
    pattern = f"{settings.opensearch.index_prefix}.*"
    try:
        # One stored record's text changed after the day was sealed.
        found = await admin.search(
            index=pattern,
            body={"query": {"match_phrase": {"log.original": "receipt record 7"}}, "seq_no_primary_term": True},
        )
        assert len(found["hits"]["hits"]) == 1
        hit = found["hits"]["hits"][0]
        hit["_source"]["log"]["original"] = "nothing to see here"
        await admin.index(  # a data stream's backing index takes an in-place write with its version
            index=hit["_index"],
            id=hit["_id"],
            body=hit["_source"],
            if_seq_no=hit["_seq_no"],
            if_primary_term=hit["_primary_term"],
            refresh=True,
        )
        async with api.client("agency_viewer") as owner:
            broken = (await owner.get(f"/api/v1/receipts/syslog-default/{day}")).json()
        assert broken["ok"] is False
        assert any("chain head differs" in p for p in broken["problems"]), broken["problems"]
        result = cli(settings, tmp_path, "verify", "--source", "syslog-default", "--day", day)
        assert result.returncode == 1 and "chain head differs" in result.stdout

        # One record deleted: the count no longer agrees either.
        deleted = await admin.delete_by_query(
            index=pattern, body={"query": {"match_phrase": {"log.original": "receipt record 9"}}}, refresh=True
        )
        assert deleted["deleted"] == 1
        result = cli(settings, tmp_path, "verify", "--source", "syslog-default", "--day", day)
        assert result.returncode == 1 and f"{N} records were received, {N - 1} are stored now" in result.stdout

        # The receipt itself edited to match: its signature gives it away.
        await admin.update(
            index=receipts_index(settings.opensearch),
            id=f"syslog-default:{day}",
            body={"doc": {"count": N - 1}},
            refresh=True,
        )
        result = cli(settings, tmp_path, "verify", "--source", "syslog-default", "--day", day)
        assert result.returncode == 1 and "signature does not match" in result.stdout
    finally:
        anchors = anchors_index(settings.opensearch.audit_index)  # the API's receipt loop anchors the audit log
        await admin.indices.delete(index=anchors, ignore=[404])
        for template in (receipts_index(settings.opensearch), anchors):
            await admin.indices.delete_index_template(name=template, ignore=[404])
        await admin.close()
