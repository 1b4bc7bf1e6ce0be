"""Issue 12: collectors' view of the declared sources. A disabled source's addresses still match it
(refused as `source_disabled`, never handed to the default source); the live directory rebuilds its
table when the registry's declarations change (edit, disable, delete)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from canhgac.collectors.base import LiveSourceDirectory, SourceDirectory
from canhgac.core.config import CollectorsConfig, SourceConfig
from canhgac.core.errors import ConfigError
from canhgac.core.source_registry import SourceRegistry
from canhgac.core.timezones import parse_zone

ON = SourceConfig(id="fw", agency="so-yte", format="fortigate", allowed_addresses=("10.0.0.0/24",))


def test_a_disabled_source_is_refused_not_defaulted() -> None:
    off = ON.model_copy(update={"enabled": False})
    directory = SourceDirectory([off], default_source_id="syslog-default", transport="syslog_tcp")
    assert directory.admit("10.0.0.5") == (None, "source_disabled")
    assert directory.admit("192.0.2.1") == (("syslog-default", "unknown", None), "")
    assert SourceDirectory([ON]).admit("10.0.0.5") == (("fw", "so-yte", "fortigate"), "")
    assert SourceDirectory([ON]).admit("192.0.2.1") == (None, "unknown_sender")


def test_the_live_directory_follows_the_registrys_declarations() -> None:
    registry = SourceRegistry([], CollectorsConfig(), None, component="collectors")
    live = LiveSourceDirectory(registry, transport="syslog_tcp")
    assert live.admit("10.0.0.5") == (None, "unknown_sender")
    for declared, want in (
        (ON, (("fw", "so-yte", "fortigate"), "")),
        (ON.model_copy(update={"format": "cef"}), (("fw", "so-yte", "cef"), "")),
        (ON.model_copy(update={"enabled": False}), (None, "source_disabled")),
    ):
        registry.declared = {"fw": declared}  # what a refresh from the config index sets
        registry.version += 1
        assert live.admit("10.0.0.5") == want
    registry.declared, registry.version = {}, registry.version + 1  # deleted
    assert live.admit("10.0.0.5") == (None, "unknown_sender")


def test_settings_sources_win_over_api_declared_ones_with_the_same_id() -> None:
    registry = SourceRegistry([ON], CollectorsConfig(), None, component="collectors")
    registry.declared = {"fw": ON.model_copy(update={"agency": "other"}), "web": SourceConfig(id="web", agency="a")}
    assert [(s.id, s.agency) for s in registry.sources()] == [("fw", "so-yte"), ("web", "a")]


def test_time_zones_iana_utc_and_fixed_offsets() -> None:
    assert parse_zone("+07:00").utcoffset(None) == timedelta(hours=7)
    assert parse_zone("-0330").utcoffset(None) == timedelta(hours=-3, minutes=-30)
    assert parse_zone("UTC").utcoffset(None) == timedelta(0)
    assert parse_zone("Asia/Ho_Chi_Minh").utcoffset(None) is None  # a real zone: offset by date
    for bad in ("+15:00", "Mars/Base", "+7"):
        with pytest.raises(ConfigError):
            parse_zone(bad)
    with pytest.raises(ValueError):
        SourceConfig(id="x", agency="a", timezone="Mars/Base")


async def test_an_open_syslog_connection_follows_an_edit_then_a_disable() -> None:
    """No network: the TCP collector's connection handler with an in-memory stream, the registry
    changed between two reads as a refresh from the config index would change it."""
    import asyncio

    from canhgac.collectors.syslog.tcp import SyslogStreamCollector
    from canhgac.core.config import SyslogTcpConfig
    from canhgac.core.metrics import Metrics

    from tests.unit.collectors.test_syslog_stream_reports import FakeWriter, ListSink, dropped

    local = ON.model_copy(update={"allowed_addresses": ("127.0.0.1/32",)})
    registry = SourceRegistry([], CollectorsConfig(), None, component="collectors")
    registry.declared, registry.version = {"fw": local}, 1
    metrics, sink = Metrics(), ListSink()
    live = LiveSourceDirectory(registry, transport="syslog_tcp")
    collector = SyslogStreamCollector(SyslogTcpConfig(port=0), sink, live, metrics)  # type: ignore[arg-type]
    reader = asyncio.StreamReader()
    handler = asyncio.create_task(collector._handle(reader, FakeWriter()))  # type: ignore[arg-type]

    async def read(line: bytes) -> None:
        reader.feed_data(line)
        for _ in range(20):
            await asyncio.sleep(0)

    await read(b"<13>one\n")
    registry.declared, registry.version = {"fw": local.model_copy(update={"format": "cef"})}, 2
    await read(b"<13>two\n")
    registry.declared, registry.version = {"fw": local.model_copy(update={"enabled": False})}, 3
    await read(b"<13>three\n")
    await asyncio.wait_for(handler, 5)  # the connection ended by the collector, not by EOF
    assert [(e.message, e.format) for e in sink.envelopes] == [("<13>one", "fortigate"), ("<13>two", "cef")]
    assert dropped(metrics) == {"source_disabled": 1.0}
