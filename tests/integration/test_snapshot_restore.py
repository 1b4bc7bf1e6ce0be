"""Backup as docs/operations.md describes it: an OpenSearch snapshot of Canhgac's indices (event
data streams and the alerts index) to a filesystem repository, the indices lost, then restored
with every document (real OpenSearch; deploy/local/services.sh sets the node's path.repo)."""

from __future__ import annotations

import pytest
from canhgac.core.store import ensure_templates, events_index, make_client
from opensearchpy.exceptions import TransportError

pytestmark = pytest.mark.integration


async def test_snapshot_then_restore_after_the_indices_are_lost(test_settings, run_id: str) -> None:  # type: ignore[no-untyped-def]
    cfg = test_settings.opensearch
    client = make_client(cfg, component="admin")
    repository, snapshot = f"canhgac-test-{run_id}", "nightly"
    stream = events_index(cfg.index_prefix, "linux.auth")
    indices = f"{cfg.index_prefix}.*,{cfg.alerts_index}"
    try:
        await ensure_templates(client, cfg)
        for i in range(20):
            body = {"@timestamp": "2026-12-01T00:00:00Z", "event": {"id": f"e{i}"}, "message": f"event {i}"}
            await client.index(index=stream, body=body, op_type="create")
        for i in range(5):
            await client.index(index=cfg.alerts_index, id=f"a{i}", body={"rule": {"id": "r"}, "count": i})
        await client.indices.refresh(index=indices)

        try:
            # A location relative to the node's path.repo.
            await client.snapshot.create_repository(
                repository=repository, body={"type": "fs", "settings": {"location": repository, "compress": True}}
            )
        except TransportError as exc:  # a node started before services.sh set path.repo
            pytest.fail(f"no snapshot repository ({exc}): restart the services so the node gets path.repo")
        taken = await client.snapshot.create(
            repository=repository,
            snapshot=snapshot,
            body={"indices": indices, "include_global_state": False},
            params={"wait_for_completion": "true"},
        )
        assert taken["snapshot"]["state"] == "SUCCESS"
        assert taken["snapshot"]["shards"]["failed"] == 0

        await client.indices.delete_data_stream(name=stream)
        await client.indices.delete(index=cfg.alerts_index)
        assert not await client.indices.exists(index=cfg.alerts_index)

        await client.snapshot.restore(
            repository=repository,
            snapshot=snapshot,
            body={"indices": indices, "include_global_state": False},
            params={"wait_for_completion": "true"},
        )
        await client.indices.refresh(index=indices)
        assert (await client.count(index=stream))["count"] == 20
        assert (await client.count(index=cfg.alerts_index))["count"] == 5
        restored = await client.get(index=cfg.alerts_index, id="a3")
        assert restored["_source"]["count"] == 3
    finally:
        for cleanup in (
            client.snapshot.delete(repository=repository, snapshot=snapshot),
            client.snapshot.delete_repository(repository=repository),
        ):
            try:
                await cleanup
            except TransportError:
                pass
        await client.close()
