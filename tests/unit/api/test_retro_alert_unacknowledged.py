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
from canhgac.core.errors import BackendUnavailable


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


# A job that fails or is interrupted while alerts wait for Kafka does not drop them.


def _hunt(
    monkeypatch: pytest.MonkeyPatch, client: FakeOpenSearch, segments: list[Segment], acknowledged: list[bool]
) -> tuple[RetroRunner, list[str]]:
    """A runner on `client` whose job is `client.job`, running these segments, Kafka answering
    `acknowledged` in turn; the ids published in order."""
    settings = Settings.model_validate({"retro_hunt": {"check_interval_secs": 0.01, "min_pause_secs": 0}})
    published: list[str] = []

    async def publish(alert: dict[str, Any]) -> bool:
        published.append(alert["id"])
        return acknowledged.pop(0)

    runner = RetroRunner(client, settings, publish)  # type: ignore[arg-type]

    async def claimed(*_: Any) -> dict[str, Any]:
        client.job["lease_owner"] = runner.owner
        return dict(client.job)

    async def hunt_segments(_job: dict[str, Any]) -> list[Segment]:
        return segments

    monkeypatch.setattr(retro_runner, "claim_next", claimed)
    monkeypatch.setattr(runner, "_segments", hunt_segments)
    return runner, published


def _rule_job(job_id: str) -> tuple[dict[str, Any], list[dict[str, Any]], Segment]:
    now = datetime.now(UTC)
    job: dict[str, Any] = {
        "id": job_id,
        "kind": "rule",
        "state": "running",
        "arrived_at": iso(now),
        "range_start": iso(now - timedelta(days=1)),
        "range_end": iso(now),
    }
    event = {"@timestamp": iso(now - timedelta(hours=1)), "event": {"id": "e1"}, "host": {"name": "his-app"}}
    rule = AlertRule(id="r-retro", title="Retro", level="high")
    match = ("r-retro", rule, None, RetroInfo(kind="rule", job=job_id, arrived_at=job["arrived_at"]))
    return job, [event], Segment({"match_all": {}}, lambda _event: [match])


async def test_a_failing_retro_hunt_publishes_what_kafka_had_not_acknowledged_before_it_ends_failed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job, events, found = _rule_job("hunt-fails")
    client = FakeOpenSearch(job, events)

    def broken(_event: dict[str, Any]) -> list[Any]:
        raise ValueError("the second query's matcher broke")

    # The first query raises an alert Kafka refuses (twice), the second fails the job.
    runner, published = _hunt(monkeypatch, client, [found, Segment({"match_all": {}}, broken)], [False, False, True])
    assert await runner.run_once(asyncio.Event()) == job["id"]
    [alert] = client.alerts
    assert published == [alert, alert, alert]
    assert client.job["state"] == "failed" and client.job["unpublished"] == []
    assert client.job["error"] == "ValueError: the second query's matcher broke"


async def test_a_failed_hunt_taken_again_while_its_alerts_wait_publishes_them_without_searching_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job, events, found = _rule_job("hunt-failing-restarted")
    # As a runner stopped while it published a failing job's alerts leaves it: running, its error kept.
    job |= {"error": "ValueError: broke", "unpublished": ["a-waiting"], "cursor": {"segment": 0, "resume_from": None}}
    client = FakeOpenSearch(job, events)
    client.alerts["a-waiting"] = {"rule": {"id": "r-retro"}}
    runner, published = _hunt(monkeypatch, client, [found], [True])
    assert await runner.run_once(asyncio.Event()) == job["id"]
    assert published == ["a-waiting"]
    assert list(client.alerts) == ["a-waiting"]  # not searched again
    assert client.job["state"] == "failed" and client.job["error"] == "ValueError: broke"
    assert client.job["unpublished"] == []


class InterruptedOpenSearch(FakeOpenSearch):
    """OpenSearch goes away once, right after the alerts were written (before the job's progress)."""

    interrupt = True

    async def bulk(self, body: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
        self.written = True
        return await super().bulk(body, **kw)

    async def get(self, index: str, id: str, **kw: Any) -> dict[str, Any]:
        if getattr(self, "written", False) and self.interrupt:
            self.interrupt = False
            raise BackendUnavailable("OpenSearch went away")
        return await super().get(index, id, **kw)


async def test_an_interrupted_hunt_resumed_publishes_the_alert_kafka_had_not_acknowledged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job, events, found = _rule_job("hunt-interrupted")
    client = InterruptedOpenSearch(job, events)
    runner, published = _hunt(monkeypatch, client, [found], [False, True])
    with pytest.raises(BackendUnavailable):
        await runner.run_once(asyncio.Event())
    assert client.job["state"] == "running"  # released, to be taken again
    # Resumed: the alert is there already ("already raised"), but Kafka never had it.
    assert await runner.run_once(asyncio.Event()) == job["id"]
    [alert] = client.alerts
    assert published == [alert, alert]
    assert client.job["state"] == "done" and client.job["unpublished"] == []


def test_the_api_answers_how_many_alerts_a_job_still_has_to_publish() -> None:
    from canhgac.api.retro.models import JobOut
    from canhgac.api.retro.service import public

    now = iso(datetime.now(UTC))
    stored = {"id": "hunt-x", "kind": "rule", "state": "running", "trigger": "manual", "created_at": now}
    stored |= {"lookback_days": 30, "unpublished": ["a1", "a2"], "cursor": {"segment": 0}, "rule_yaml": "x"}
    answer = JobOut.model_validate(public(stored)).model_dump(mode="json")
    assert answer["unpublished_count"] == 2 and answer["unpublished"] == ["a1", "a2"]
    assert JobOut.model_validate(public({**stored, "unpublished": []})).unpublished_count == 0
    assert "unpublished_count" in JobOut.model_json_schema()["properties"]
