"""Issue 12: sources are live configuration. A source declared through the API is used by the
syslog collector (matched by address), the normaliser (its format and time zone) and follows edits,
disable and delete within seconds, no restart. Syslog in, events out, through real Kafka and
OpenSearch; the source is written as the API writes it (api/sources/service.py)."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from canhgac.api.indices import ensure_api_indices
from canhgac.api.sources import service
from canhgac.api.sources.models import SourceCreate, SourceUpdate
from canhgac.core.store import make_client
from opensearchpy.exceptions import TransportError

from canhgac.demo_feed import send_lines
from canhgac.runtime import Runtime
from tests.conftest import eventually
from tests.integration.api.conftest import cleanup

pytestmark = pytest.mark.e2e

SENDER = "127.0.0.23"  # a loopback address of its own: only the declared source matches it
SOURCE = "live-tz-src"


def json_line(tag: str) -> str:
    """A record whose time carries no zone: read in the source's declared zone."""
    return f'{{"@timestamp": "2026-12-05 09:00:00", "message": "{tag}"}}'


class Harness:
    def __init__(self, settings: Any, runtime: Runtime, client: Any) -> None:
        self.settings = settings
        self.runtime = runtime
        self.client = client
        self.seq = itertools.count()

    async def events(self, tag: str) -> list[dict[str, Any]]:
        pattern = f"{self.settings.opensearch.index_prefix}.*"
        try:
            await self.client.indices.refresh(index=pattern, ignore_unavailable=True)
            found = await self.client.search(
                index=pattern,
                body={"size": 50, "query": {"match_phrase": {"log.original": tag}}},
                ignore_unavailable=True,
            )
        except TransportError as exc:  # a data stream's first shard is still starting
            if exc.status_code != 503:
                raise
            return []
        return [h["_source"] for h in found["hits"]["hits"]]

    async def send_until(self, make_line: Any, accept: Any, timeout_secs: float = 45.0) -> dict[str, Any]:
        """Send a fresh line until one is stored the way `accept` wants (edits reach the collector and
        the normaliser within the refresh interval; lines sent before that are parsed the old way)."""
        collector = self.runtime.collector
        assert collector is not None and collector.port

        async def check() -> dict[str, Any] | None:
            tag = f"live-{next(self.seq)}-{id(self)}"
            await send_lines("127.0.0.1", collector.port, [make_line(tag)], local_address=SENDER)
            for _ in range(6):
                found = await self.events(tag)
                if found:
                    return found[0] if accept(found[0]) else None
                await asyncio.sleep(0.5)
            return None

        return await eventually(check, timeout_secs=timeout_secs, interval_secs=0.2)


@pytest.fixture
async def harness(test_settings):  # type: ignore[no-untyped-def]
    settings = test_settings.model_copy(update={"sources_refresh_secs": 0.5})
    runtime = Runtime(settings, stages=("normalizer", "indexer"), api=False)
    task = asyncio.create_task(runtime.run())
    await asyncio.wait_for(runtime.started.wait(), 120)
    client = make_client(settings.opensearch, component="admin")
    await ensure_api_indices(client, settings.opensearch)
    try:
        yield Harness(settings, runtime, client)
    finally:
        await client.close()
        runtime.request_stop()
        await asyncio.wait_for(task, 60)
        await cleanup(settings)


async def test_api_declared_source_format_and_zone_reach_collector_and_normaliser(harness: Harness) -> None:
    await service.create_source(
        harness.client,
        harness.settings,
        SourceCreate(
            id=SOURCE,
            agency="so-yte",
            format="json",
            timezone="+07:00",
            allowed_addresses=[f"{SENDER}/32"],
        ),
        by="test",
    )
    event = await harness.send_until(json_line, lambda e: e["canhgac"]["source_id"] == SOURCE)
    assert event["canhgac"]["agency"] == "so-yte"
    assert event["canhgac"]["collector"] == "syslog-tcp"
    assert event["canhgac"]["dataset"] == "json"  # the declared format, not the collector's default
    assert event["@timestamp"] == "2026-12-05T02:00:00.000Z"  # 09:00 read at +07:00


def nginx_line(tag: str) -> str:
    return f'203.0.113.5 - - [05/Dec/2026:09:00:00 +0700] "GET /{tag} HTTP/1.1" 404 12 "-" "curl/8"'


async def test_edit_disable_and_delete_apply_without_restart(harness: Harness) -> None:
    settings, client = harness.settings, harness.client
    await service.create_source(
        client,
        settings,
        SourceCreate(id=SOURCE, agency="so-yte", format="json", timezone="+07:00", allowed_addresses=[SENDER]),
        by="test",
    )
    await harness.send_until(json_line, lambda e: e["@timestamp"] == "2026-12-05T02:00:00.000Z")

    # A new zone, then a new format (an alias), each picked up by the running process.
    await service.update_source(client, settings, SOURCE, SourceUpdate(timezone="+09:00"), by="test")
    event = await harness.send_until(json_line, lambda e: e["@timestamp"] == "2026-12-05T00:00:00.000Z")
    assert event["canhgac"]["source_id"] == SOURCE and event["canhgac"]["dataset"] == "json"
    await service.update_source(client, settings, SOURCE, SourceUpdate(format="nginx"), by="test")
    event = await harness.send_until(nginx_line, lambda e: e["canhgac"]["dataset"] == "nginx.access")
    assert event["url"]["path"].startswith("/live-") and event["canhgac"]["agency"] == "so-yte"

    # Disabled: the collector refuses the sender's connections (counted); nothing is stored.
    refused = harness.runtime.metrics.dropped.labels("syslog-tcp", "source_disabled")
    before = refused._value.get()
    await service.update_source(client, settings, SOURCE, SourceUpdate(enabled=False), by="test")
    collector = harness.runtime.collector
    assert collector is not None and collector.port
    sent_while_disabled: list[str] = []

    async def refused_once() -> bool:
        tag = f"disabled-{len(sent_while_disabled)}"
        sent_while_disabled.append(tag)
        try:
            await send_lines("127.0.0.1", collector.port, [nginx_line(tag)], local_address=SENDER)
        except ConnectionError:
            pass  # the collector closed the connection first
        await asyncio.sleep(0.3)
        return refused._value.get() > before

    await eventually(refused_once, timeout_secs=30, interval_secs=0.2)

    # Enabled again: stored again; the line refused while disabled never was.
    await service.update_source(client, settings, SOURCE, SourceUpdate(enabled=True), by="test")
    await harness.send_until(nginx_line, lambda e: e["canhgac"]["source_id"] == SOURCE)
    assert not await harness.events(sent_while_disabled[-1])

    # Deleted: the address matches nothing declared, so the transport's default source takes it.
    await service.delete_source(client, settings, SOURCE)
    event = await harness.send_until(json_line, lambda e: e["canhgac"]["source_id"] != SOURCE)
    assert event["canhgac"]["source_id"] == settings.collectors.syslog_tcp.default_source_id
    assert event["canhgac"]["agency"] == settings.collectors.syslog_tcp.default_agency
