"""A retro alert whose publish Kafka did not acknowledge is published again: its id is kept in the
job's `unpublished` and the job is not finished before every one was acknowledged (a re-run would
find the alert "already exists" and never publish it). OpenSearch is an in-memory fake."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from canhgac.api.retro import runner as retro_runner
from canhgac.api.retro.runner import RetroRunner, Segment
from canhgac.core.alert import AlertRule, RetroInfo, iso
from canhgac.core.config import Settings


class FakeOpenSearch:
    """The jobs, alerts and events indices as the runner reads and writes them."""

    def __init__(self, job: dict[str, Any], events: list[dict[str, Any]]) -> None:
        self.job = job
        self.events = events
        self.alerts: dict[str, dict[str, Any]] = {}

    async def count(self, index: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {"count": len(self.events)}

    async def search(self, index: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        events = [] if "systems" in index or "search_after" in body else self.events
        hits = [{"_id": str(i), "_source": e, "sort": [i]} for i, e in enumerate(events)]
        return {"hits": {"total": {"value": len(hits), "relation": "eq"}, "hits": hits}}

    async def bulk(self, body: list[dict[str, Any]], **_: Any) -> dict[str, Any]:
        items = []
        for action, document in zip(body[::2], body[1::2], strict=True):
            doc_id = action["create"]["_id"]
            items.append({"create": {"_id": doc_id, "status": 409 if doc_id in self.alerts else 201}})
            self.alerts.setdefault(doc_id, document)
        return {"items": items}

    async def get(self, index: str, id: str, **_: Any) -> dict[str, Any]:
        source = self.job if id == self.job["id"] else self.alerts[id]
        return {"_source": dict(source), "_seq_no": 0, "_primary_term": 1}

    async def update(self, index: str, id: str, body: dict[str, Any], **_: Any) -> None:
        assert id == self.job["id"]
        self.job.update(body["doc"])


async def test_a_retro_alert_kafka_did_not_acknowledge_is_published_again(monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    job: dict[str, Any] = {
        "id": "hunt-unacknowledged",
        "kind": "rule",
        "state": "running",
        "arrived_at": iso(now),
        "range_start": iso(now - timedelta(days=1)),
        "range_end": iso(now),
    }
    event = {"@timestamp": iso(now - timedelta(hours=1)), "event": {"id": "e1"}, "host": {"name": "his-app"}}
    client = FakeOpenSearch(job, [event])
    settings = Settings.model_validate({"retro_hunt": {"check_interval_secs": 0.01, "min_pause_secs": 0}})
    rule = AlertRule(id="r-retro", title="Retro", level="high")
    match = ("r-retro", rule, None, RetroInfo(kind="rule", job=job["id"], arrived_at=job["arrived_at"]))

    async def claimed(*_: Any) -> dict[str, Any]:
        job["lease_owner"] = runner.owner
        return dict(job)

    async def segments(_job: dict[str, Any]) -> list[Segment]:
        return [Segment({"match_all": {}}, lambda _event: [match])]

    acknowledged = [False, True]  # Kafka refuses the first publish
    published: list[tuple[str, str, list[str]]] = []

    async def publish(alert: dict[str, Any]) -> bool:
        published.append((alert["id"], client.job.get("state", ""), list(client.job.get("unpublished", []))))
        return acknowledged.pop(0)

    runner = RetroRunner(client, settings, publish)  # type: ignore[arg-type]
    monkeypatch.setattr(retro_runner, "claim_next", claimed)
    monkeypatch.setattr(runner, "_segments", segments)
    assert await runner.run_once(asyncio.Event()) == job["id"]
    [alert] = client.alerts
    # Refused, then published again (the same alert) before the job was finished, and only once.
    assert [(a, state) for a, state, _ in published] == [(alert, "running"), (alert, "running")]
    assert published[1][2] == [alert]  # kept in the job while unacknowledged
    assert client.job["state"] == "done" and client.job["unpublished"] == [] and client.job["alerts_raised"] == 1
