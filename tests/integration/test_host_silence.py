"""Per-host silence inside a shared source (issue 16, item 3), through the real Kafka: events of
two hosts behind one relay reach the source-health stage; when one host stops, only it is
reported "host silent"; on a weekend, a holiday and outside working hours nobody is. The stage's
clock for the per-host decision is set by the test (the path is real, the time is not waited for)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from canhgac.core.config import Settings, SourceConfig
from canhgac.core.host_silence import HostSilenceConfig, SourceHostSilence
from canhgac.core.kafka import ensure_topics, make_producer
from canhgac.core.metrics import Metrics
from canhgac.pipeline.host_silence import HOST_SILENT_RULE_ID
from canhgac.pipeline.source_health import SourceHealthStage

from tests.conftest import eventually
from tests.integration.test_correlator_replicas import read_all

pytestmark = pytest.mark.integration

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
RELAY = "relay-office"
OFFICE = "relay-office-2"  # a second shared source, for the weekend and holiday part
HOLIDAY = date(2026, 12, 14)  # a Monday, declared a holiday for this test


async def test_one_quiet_host_of_a_shared_source_is_reported_in_working_hours_only(test_settings: Settings) -> None:
    sources = tuple(
        SourceConfig(id=sid, agency="so-tttt", allowed_addresses=("127.0.0.1/32",)) for sid in (RELAY, OFFICE)
    )
    settings = test_settings.model_copy(update={"sources": sources})
    await ensure_topics(settings.kafka)
    config = HostSilenceConfig(
        sources={RELAY: SourceHostSilence(), OFFICE: SourceHostSilence()},
        min_events=3,
        silent_after_secs=3600,
        holidays=(HOLIDAY,),
    )
    now = [datetime(2026, 12, 7, 9, 0, tzinfo=HCM)]  # Monday 09:00
    stage = SourceHealthStage(
        settings.kafka,
        settings.opensearch,
        settings.pipeline,
        Metrics(),
        sources,
        check_interval_secs=0.2,
        host_silence=config,
        clock=lambda: now[0],
    )
    checks = [0]
    publish = stage._publish

    async def counted(alerts: list[dict[str, Any]]) -> None:
        await publish(alerts)
        checks[0] += 1

    stage._publish = counted  # type: ignore[method-assign]
    producer = make_producer(settings.kafka, component="normalizer", client_suffix="host-silence-test")
    await producer.start()
    stop = asyncio.Event()
    task = asyncio.create_task(stage.run(stop))

    async def send(*hosts: str, source: str = RELAY) -> None:
        for host in hosts:
            event = {"message": "x", "host": {"name": host}, "canhgac": {"source_id": source, "agency": "so-tttt"}}
            await producer.send_and_wait(settings.kafka.topics.events, orjson.dumps(event), key=source.encode())

    async def seen(host: str, at: datetime, events: int = 1, source: str = RELAY) -> bool:
        stats = stage.hosts.hosts.get((source, host))
        return stats is not None and stats.last_seen == at and stats.events >= events

    async def checked_at(at: datetime) -> None:
        """Set the clock, then let the stage run two more checks with it."""
        now[0] = at
        start = checks[0]
        await eventually(lambda: _true(checks[0] >= start + 2), timeout_secs=30, interval_secs=0.1)

    async def silent_hosts(source: str = RELAY) -> list[str]:
        records = await read_all(settings, settings.kafka.topics.alerts, "alert_indexer")
        alerts = [orjson.loads(r.value) for r in records]
        return sorted(
            a["host"]["name"]
            for a in alerts
            if a["rule"]["id"] == HOST_SILENT_RULE_ID
            and a["canhgac"]["source_id"] == source
            and not a.get("cleared_at")
        )

    try:
        await eventually(lambda: _true(bool(stage.owned_partitions)), timeout_secs=60)
        await send(*["pc-ketoan-01", "pc-vanthu-02"] * 3)
        await eventually(lambda: seen("pc-vanthu-02", now[0], 3), timeout_secs=30, interval_secs=0.1)

        # Monday: pc-ketoan-01 goes on sending, pc-vanthu-02 stops; 90 min later only it is silent.
        now[0] = datetime(2026, 12, 7, 9, 50, tzinfo=HCM)
        await send("pc-ketoan-01")
        await eventually(lambda: seen("pc-ketoan-01", now[0]), timeout_secs=30, interval_secs=0.1)
        await checked_at(datetime(2026, 12, 7, 10, 30, tzinfo=HCM))
        assert await eventually(silent_hosts, timeout_secs=30) == ["pc-vanthu-02"]

        # Another shared source: its two office PCs send on Friday until 16:50, then the office
        # closes: neither is silent at 23:00, on Saturday, on Sunday or on the Monday holiday.
        now[0] = datetime(2026, 12, 11, 16, 50, tzinfo=HCM)
        await send(*["pc-a", "pc-b"] * 3, source=OFFICE)
        await eventually(lambda: seen("pc-b", now[0], 3, source=OFFICE), timeout_secs=30, interval_secs=0.1)
        for at in (
            datetime(2026, 12, 11, 23, 0, tzinfo=HCM),
            datetime(2026, 12, 12, 12, 0, tzinfo=HCM),
            datetime(2026, 12, 13, 12, 0, tzinfo=HCM),
            datetime(2026, 12, 14, 15, 0, tzinfo=HCM),
        ):
            await checked_at(at)
        assert await silent_hosts(OFFICE) == []

        # Tuesday 09:00: 40 min on Friday + 90 min today of working time without either PC.
        await checked_at(datetime(2026, 12, 15, 9, 0, tzinfo=HCM))
        assert await eventually(lambda: _len_is(lambda: silent_hosts(OFFICE), 2), timeout_secs=30) == ["pc-a", "pc-b"]
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
        await producer.stop()


async def _true(value: bool) -> bool:
    return value


async def _len_is(get, n: int):  # type: ignore[no-untyped-def]
    found = await get()
    return found if len(found) == n else None
