"""What the syslog TCP/TLS collector reports about a connection's framing (no network: the
connection handler is driven with an in-memory stream)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from canhgac.collectors.base import SourceDirectory
from canhgac.collectors.syslog.tcp import SyslogStreamCollector
from canhgac.core.config import SyslogTcpConfig
from canhgac.core.envelope import RawEnvelope
from canhgac.core.metrics import Metrics


class ListSink:
    def __init__(self) -> None:
        self.envelopes: list[RawEnvelope] = []

    async def submit(self, envelopes: list[RawEnvelope]) -> None:
        self.envelopes += envelopes


class FakeWriter:
    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else None

    def close(self) -> None:
        pass


def dropped(metrics: Metrics) -> dict[str, float]:
    return {
        s.labels["reason"]: s.value
        for m in metrics.registry.collect()
        if m.name == "canhgac_events_dropped"
        for s in m.samples
        if s.name.endswith("_total")
    }


async def run_connection(data: bytes, max_message_bytes: int = 256) -> tuple[ListSink, Metrics]:
    metrics = Metrics()
    sink = ListSink()
    cfg = SyslogTcpConfig(port=0, max_message_bytes=max_message_bytes)
    directory = SourceDirectory((), default_source_id="dev", default_agency="so-tttt")
    collector = SyslogStreamCollector(cfg, sink, directory, metrics)  # type: ignore[arg-type]
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    await collector._handle(reader, FakeWriter())  # type: ignore[arg-type]
    return sink, metrics


async def test_over_limit_octet_count_is_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    big = b"<13>" + b"X" * 996
    with caplog.at_level(logging.WARNING, logger="canhgac.collectors.syslog.tcp"):
        sink, metrics = await run_connection(b"1000 " + big + b"8 <13>next", max_message_bytes=256)
    assert [e.message for e in sink.envelopes] == [big[:256].decode(), "<13>next"]
    counts = dropped(metrics)
    assert counts["octet_count_over_limit"] == 1
    assert counts["over_long_tail_bytes"] == 1000 - 256
    assert any("1000" in r.getMessage() and "256" in r.getMessage() for r in caplog.records)


async def test_lf_connection_with_digit_lines_loses_nothing() -> None:
    lines = [b"<13>start", b"404 not found for /x", b"<13>after one", b"<13>after two"]
    sink, metrics = await run_connection(b"\n".join(lines) + b"\n")
    assert [e.message for e in sink.envelopes] == [line.decode() for line in lines]
    assert dropped(metrics) == {}
