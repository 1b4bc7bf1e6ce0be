"""Bad input never stops the listener and is never dropped silently: junk, invalid UTF-8 and
over-long lines are kept and flagged; a record its parser refuses becomes a pipeline_error event
(searchable) plus a DLQ record with the reason."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from canhgac.core.kafka import client_security
from canhgac.core.store import make_client

from canhgac.runtime import Runtime
from tests.conftest import eventually

pytestmark = pytest.mark.integration


async def all_events(settings) -> list[dict]:  # type: ignore[no-untyped-def]
    client = make_client(settings.opensearch, component="admin")
    try:
        index = f"{settings.opensearch.index_prefix}.*"
        await client.indices.refresh(index=index, allow_no_indices=True)
        result = await client.search(index=index, body={"size": 100, "query": {"match_all": {}}}, allow_no_indices=True)
        return [h["_source"] for h in result["hits"]["hits"]]
    finally:
        await client.close()


async def send_raw(port: int, data: bytes) -> None:
    _r, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def test_junk_and_refused_records_are_kept_flagged_and_dead_lettered(test_settings) -> None:
    settings = test_settings.model_copy(
        update={
            "collectors": test_settings.collectors.model_copy(
                update={"syslog_tcp": test_settings.collectors.syslog_tcp.model_copy(update={"max_message_bytes": 512})}
            )
        }
    )
    runtime = Runtime(settings, stages=("normalizer", "indexer"), api=False)
    task = asyncio.create_task(runtime.run())
    await asyncio.wait_for(runtime.started.wait(), 120)
    try:
        assert runtime.collector is not None and runtime.collector.port
        port = runtime.collector.port
        await send_raw(
            port,
            b"\x00\xff\xfe binary \xc3\x28 junk\n"
            + b"<13>Nov 26 10:00:00 h app: "
            + b"L" * 2000
            + b"\n<13>Nov 26 10:00:01 h app: still alive\n",
        )

        async def three() -> list[dict] | None:
            events = await all_events(settings)
            return events if len(events) >= 3 else None

        events = await eventually(three, timeout_secs=60)
        by_text = {e["message"][:12]: e for e in events}
        assert len(events) == 3
        junk = next(e for e in events if "junk" in e["message"])
        assert "framing_error" in junk["tags"] and "invalid UTF-8" in junk["error"]["message"]
        long = next(e for e in events if "LLLL" in e["message"])
        assert "framing_error" in long["tags"] and "truncated" in long["error"]["message"]
        assert len(long["log"]["original"].encode()) == 512
        assert any("still alive" in e["message"] for e in events), by_text
        counted = runtime.metrics.dropped.labels("syslog-tcp", "over_long_tail_bytes")._value.get()
        assert counted == 2000 + len(b"<13>Nov 26 10:00:00 h app: ") - 512
    finally:
        runtime.request_stop()
        await asyncio.wait_for(task, 60)


async def test_record_refused_by_its_parser_is_searchable_and_in_the_dlq(test_settings) -> None:
    from canhgac.core.config import SourceConfig

    source = SourceConfig(
        id="win-dc", agency="so-noi-vu", format="windows-evtx-json", allowed_addresses=("127.0.0.1/32",)
    )
    settings = test_settings.model_copy(update={"sources": (source,)})
    runtime = Runtime(settings, stages=("normalizer", "indexer"), api=False)
    task = asyncio.create_task(runtime.run())
    await asyncio.wait_for(runtime.started.wait(), 120)
    try:
        assert runtime.collector is not None and runtime.collector.port
        await send_raw(runtime.collector.port, b"this is not an evtx JSON record\n")

        async def one() -> list[dict] | None:
            events = await all_events(settings)
            return events or None

        (event,) = await eventually(one, timeout_secs=60)
        assert event["event"]["kind"] == "pipeline_error"
        assert event["canhgac"]["source_id"] == "win-dc" and event["canhgac"]["agency"] == "so-noi-vu"
        assert event["error"]["message"].startswith("windows-evtx-json:")

        consumer = AIOKafkaConsumer(
            settings.kafka.topics.dlq,
            bootstrap_servers=settings.kafka.bootstrap_servers,
            auto_offset_reset="earliest",
            group_id=None,
            **client_security(settings.kafka, "admin"),
        )
        await consumer.start()
        try:
            batch = await consumer.getmany(timeout_ms=10_000)
            records = [orjson.loads(r.value) for recs in batch.values() for r in recs]
        finally:
            await consumer.stop()
        assert len(records) == 1
        assert records[0]["stage"] == "normalizer" and records[0]["reason"] == "parse_error"
        assert records[0]["record"]["message"] == "this is not an evtx JSON record"
    finally:
        runtime.request_stop()
        await asyncio.wait_for(task, 60)
