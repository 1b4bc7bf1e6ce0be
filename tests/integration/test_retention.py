"""Retention deletes events past their source's security-level retention, and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from canhgac.core.config import RetentionConfig, SourceConfig
from canhgac.core.store import ensure_templates, events_index, make_client
from canhgac.pipeline.retention import apply_retention

pytestmark = pytest.mark.integration


async def test_retention_by_security_level(test_settings) -> None:
    now = datetime(2026, 11, 26, tzinfo=UTC)
    cfg = RetentionConfig(days_by_level={1: 30, 2: 90, 3: 365, 4: 730, 5: 1095}, default_level=2)
    sources = [
        SourceConfig(id="web-l1", agency="a", security_level=1),
        SourceConfig(id="dc-l4", agency="b", security_level=4),
    ]
    client = make_client(test_settings.opensearch, component="admin")
    try:
        await ensure_templates(client, test_settings.opensearch)
        index = events_index(test_settings.opensearch.index_prefix, "syslog")
        docs = {
            "web-l1-old": ("web-l1", 40),
            "web-l1-new": ("web-l1", 10),
            "dc-l4-old": ("dc-l4", 800),
            "dc-l4-kept": ("dc-l4", 400),
            "other-old": ("undeclared", 100),
            "other-new": ("undeclared", 60),
        }
        for doc_id, (source, days) in docs.items():
            await client.index(
                index=index,
                id=doc_id,
                op_type="create",
                refresh=True,
                body={
                    "@timestamp": (now - timedelta(days=days)).isoformat(),
                    "event": {"id": doc_id},
                    "canhgac": {"source_id": source},
                },
            )
        deleted = await apply_retention(client, test_settings.opensearch.index_prefix, sources, cfg, now=now)
        assert deleted == 3
        await client.indices.refresh(index=index)
        left = await client.search(index=index, body={"size": 20, "query": {"match_all": {}}})
        assert sorted(h["_id"] for h in left["hits"]["hits"]) == ["dc-l4-kept", "other-new", "web-l1-new"]
    finally:
        await client.close()
