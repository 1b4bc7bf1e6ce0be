"""The audit log's hash chains on the real OpenSearch: concurrent writers never fork a tenant's chain,
and `canhgac audit verify` finds an edited, a deleted and a reordered record."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.api.conftest import AGENCY_A, cleanup

pytestmark = pytest.mark.integration


def verify_cli(settings: Any, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return audit_cli(settings, tmp_path, "verify", *extra)


def audit_cli(settings: Any, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "canhgac.yml"
    config.write_text(yaml.safe_dump(settings.model_dump(mode="json")), encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "canhgac", "--config", str(config), "audit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def write_records(settings: Any, count: int) -> None:
    """`count` records for each of two tenants, from two API "replicas" (clients) at once."""
    from canhgac.api.audit.service import record
    from canhgac.api.auth.models import Principal
    from canhgac.api.indices import ensure_api_indices
    from canhgac.core.store import make_client

    cfg = settings.opensearch
    replicas = [make_client(cfg, component="api") for _ in range(2)]
    try:
        await ensure_api_indices(replicas[0], cfg)
        agency_user = Principal(username="lan", role="agency_viewer", agency=AGENCY_A, via="token", credential_id="t1")
        writes = []
        for i in range(count):
            client = replicas[i % 2]
            writes.append(
                record(
                    client,
                    cfg.audit_index,
                    actor="admin",
                    action="alert.status",
                    target_type="alert",
                    target_id=f"a{i}",
                    details={"n": i, "text": "đã xử lý"},
                )
            )
            writes.append(
                record(
                    client,
                    cfg.audit_index,
                    actor=agency_user,
                    action="auth.login",
                    target_type="user",
                    target_id="lan",
                    details={"n": i},
                )
            )
        await asyncio.gather(*writes)
    finally:
        for client in replicas:
            await client.close()


async def test_concurrent_writers_keep_one_chain_per_tenant(test_settings) -> None:  # type: ignore[no-untyped-def]
    from canhgac.api.audit.chain import verify
    from canhgac.core.store import make_client

    cfg = test_settings.opensearch
    try:
        await write_records(test_settings, 15)
        client = make_client(cfg, component="api")
        try:
            reports = {r.tenant: r for r in await verify(client, cfg.audit_index)}
            stored = await client.search(index=cfg.audit_index, body={"size": 100, "query": {"match_all": {}}})
        finally:
            await client.close()
        assert set(reports) == {"soc", AGENCY_A}
        for report in reports.values():
            assert report.ok, report.problems
            assert (report.records, report.first_seq, report.head_seq) == (15, 1, 15)
        seqs: dict[str, list[int]] = {}
        for hit in stored["hits"]["hits"]:
            seqs.setdefault(hit["_source"]["tenant"], []).append(hit["_source"]["seq"])
        assert {t: sorted(s) for t, s in seqs.items()} == {t: list(range(1, 16)) for t in ("soc", AGENCY_A)}
    finally:
        await cleanup(test_settings)


async def test_audit_verify_command_finds_edited_deleted_and_reordered_records(  # type: ignore[no-untyped-def]
    test_settings, tmp_path: Path
) -> None:
    from canhgac.api.audit.chain import record_id
    from canhgac.core.store import make_client

    cfg = test_settings.opensearch
    try:
        await write_records(test_settings, 6)
        clean = verify_cli(test_settings, tmp_path)
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert f"{AGENCY_A}: ok, 6 records" in clean.stdout and "soc: ok, 6 records" in clean.stdout

        admin = make_client(cfg, component="admin")  # someone with write access to the index
        try:
            # Edit the SOC's record 2 in place (hide who acted), delete the agency's record 4.
            await admin.update(
                index=cfg.audit_index,
                id=record_id("soc", 2),
                body={"doc": {"actor": {"username": "someone-else"}}},
                refresh=True,
            )
            await admin.delete(index=cfg.audit_index, id=record_id(AGENCY_A, 4), refresh=True)
            broken = verify_cli(test_settings, tmp_path)
            assert broken.returncode == 1, broken.stdout + broken.stderr
            assert "soc: BROKEN" in broken.stdout and f"{AGENCY_A}: BROKEN" in broken.stdout
            assert f"edited at seq 2 ({record_id('soc', 2)})" in broken.stdout
            assert "missing at seq 4" in broken.stdout

            # Reorder: swap the agency's records 1 and 2 by swapping their seq numbers.
            one = (await admin.get(index=cfg.audit_index, id=record_id(AGENCY_A, 1)))["_source"]
            two = (await admin.get(index=cfg.audit_index, id=record_id(AGENCY_A, 2)))["_source"]
            await admin.update(index=cfg.audit_index, id=record_id(AGENCY_A, 1), body={"doc": {"seq": 2}})
            await admin.update(index=cfg.audit_index, id=record_id(AGENCY_A, 2), body={"doc": {"seq": 1}}, refresh=True)
            assert one["hash"] != two["hash"]
            reordered = verify_cli(test_settings, tmp_path, "--tenant", AGENCY_A)
            assert reordered.returncode == 1
            assert f"edited at seq 1 ({record_id(AGENCY_A, 2)})" in reordered.stdout
            assert "soc" not in reordered.stdout
        finally:
            await admin.close()
    finally:
        await cleanup(test_settings)


async def test_signed_anchor_catches_the_newest_records_removed(test_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import secrets

    from canhgac.api.audit.chain import anchors_index, record_id
    from canhgac.core.store import make_client

    key_file = tmp_path / "receipt.key"
    key_file.write_bytes(secrets.token_bytes(32))
    settings = test_settings.model_copy(
        update={"receipts": test_settings.receipts.model_copy(update={"signing_key_file": str(key_file)})}
    )
    cfg = settings.opensearch
    admin = make_client(cfg, component="admin")
    try:
        await write_records(settings, 4)
        anchored = audit_cli(settings, tmp_path, "anchor")
        assert anchored.returncode == 0, anchored.stdout + anchored.stderr
        assert "anchored soc: seq 4" in anchored.stdout
        assert verify_cli(settings, tmp_path).returncode == 0

        # The newest SOC record removed: no gap is left, but the signed head says it existed.
        await admin.delete(index=cfg.audit_index, id=record_id("soc", 4), refresh=True)
        tail = verify_cli(settings, tmp_path, "--tenant", "soc")
        assert tail.returncode == 1 and "missing at seq 4" in tail.stdout and "anchored" in tail.stdout

        # An anchor moved back to hide it fails its signature.
        found = await admin.search(index=anchors_index(cfg.audit_index), body={"query": {"term": {"tenant": "soc"}}})
        await admin.update(
            index=anchors_index(cfg.audit_index),
            id=found["hits"]["hits"][0]["_id"],
            body={"doc": {"seq": 3}},
            refresh=True,
        )
        forged = verify_cli(settings, tmp_path, "--tenant", "soc")
        assert forged.returncode == 1 and "forged_anchor" in forged.stdout
    finally:
        await admin.indices.delete(index=anchors_index(cfg.audit_index), ignore=[404])
        await admin.indices.delete_index_template(name=anchors_index(cfg.audit_index), ignore=[404])
        await admin.close()
        await cleanup(settings)
