"""A feed's "stale" alert whose publish Kafka did not acknowledge is raised again by the next round:
the alert is recorded on the feed (once per outage, across API replicas) before it is published,
and a recorded alert is never raised again. The feeds index is an in-memory fake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from canhgac.api.intel import poller
from canhgac.core.alert import iso
from canhgac.core.config import OpenSearchConfig


class FeedsIndex:
    """The one feed as `Index.get_versioned` and `Index.update` read and write it."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.seq_no = 0

    async def get(self, index: str, id: str) -> dict[str, Any]:
        return {"_source": dict(self.doc), "_seq_no": self.seq_no, "_primary_term": 1}

    async def update(self, index: str, id: str, body: dict[str, Any], **params: Any) -> None:
        assert params.get("if_seq_no") == self.seq_no, "conditional updates only"
        self.doc.update(body["doc"])
        self.seq_no += 1


async def test_a_stale_alert_kafka_did_not_acknowledge_is_raised_again(monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    feeds = FeedsIndex(
        {
            "id": "dead-misp",
            "kind": "misp",
            "url": "http://127.0.0.1:9/",
            "enabled": True,
            "interval_secs": 1,
            "stale_after_secs": 1,
            "created_at": iso(now - timedelta(minutes=1)),
            "last_success_at": None,
            "stale_alert": None,
        }
    )

    async def nothing_due(*_: Any) -> list[dict[str, Any]]:
        return []

    async def list_feeds(*_: Any) -> list[dict[str, Any]]:
        return [dict(feeds.doc)]

    monkeypatch.setattr(poller, "due_feeds", nothing_due)
    monkeypatch.setattr(poller, "list_feeds", list_feeds)
    acknowledged = [False, True]  # Kafka down for the first publish
    published: list[dict[str, Any]] = []

    async def publish(alert: dict[str, Any]) -> bool:
        published.append(alert)
        return acknowledged.pop(0)

    cfg = OpenSearchConfig()
    for _ in range(3):  # refused, raised again and acknowledged, then quiet (once per outage)
        await poller.poll_due(feeds, cfg, publish)  # type: ignore[arg-type]
    assert [a["rule"]["id"] for a in published] == ["canhgac-intel-feed-stale"] * 2
    assert published[0]["id"] == published[1]["id"] == feeds.doc["stale_alert"]
