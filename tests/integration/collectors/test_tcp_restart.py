"""Real rsyslog and syslog-ng (the plain-TCP configs of docs/sources/) into the syslog TCP
collector running as `canhgac run` in a child process, restarted cleanly (SIGTERM) three times
while the shipper sends a steady stream: a clean restart loses nothing.

On a clean stop the collector stops accepting, half-closes each connection (FIN), keeps reading
and storing what the sender had already sent until the sender closes its side (rsyslog and
syslog-ng notice the end of stream and reconnect), at most `close_wait_secs`, then closes.
Closing outright made the kernel answer the sender's in-flight bytes with a reset: they were lost.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from canhgac.core.config import SourceConfig
from canhgac.core.kafka import ensure_topics

from tests.conftest import eventually, free_port
from tests.integration.collectors.helpers import read_raw
from tests.integration.shippers import (
    CollectorProcess,
    Rsyslogd,
    Shipper,
    SyslogNg,
    disk_buffer_files_cleaned,
    doc_configs,
    swap,
)

pytestmark = [pytest.mark.integration, pytest.mark.serial]
LINES = 4000
RESTARTS = 3


def tcp_settings(test_settings, port: int):  # type: ignore[no-untyped-def]
    source = SourceConfig(id="tthdl-tcp", agency="tthdl", allowed_addresses=("127.0.0.1/32",))
    c = test_settings.collectors
    tcp = c.syslog_tcp.model_copy(update={"enabled": True, "port": port, "default_source_id": None})
    return test_settings.model_copy(
        update={"sources": (source,), "collectors": c.model_copy(update={"syslog_tcp": tcp})}
    )


def shipper(kind: str, workdir: Path, port: int) -> Shipper:
    if kind == "rsyslog":
        config = doc_configs("rsyslog.md")["60-canhgac.conf"]
        config = swap(config, 'target="soc-collector.tinh.gov.vn"', 'target="127.0.0.1"')
        return Rsyslogd(workdir, swap(config, 'port="5514"', f'port="{port}"'))
    config = doc_configs("syslog-ng.md")["canhgac.conf"]
    config = swap(config, '"soc-collector.tinh.gov.vn"', '"127.0.0.1"')
    return SyslogNg(workdir, swap(config, "port(5514)", f"port({port})"))


async def seen(settings) -> set[int]:  # type: ignore[no-untyped-def]
    records = await read_raw(settings, LINES, timeout_secs=15, settle_secs=0.5)
    return {int(r["message"].rsplit("seq=", 1)[1]) for r in records if "tcp-test" in r["message"]}


@pytest.mark.parametrize("kind", ["rsyslog", "syslog-ng"])
async def test_shipper_over_tcp_loses_nothing_on_clean_restarts(kind: str, test_settings, tmp_path: Path) -> None:
    port = free_port()
    settings = tcp_settings(test_settings, port)
    await ensure_topics(settings.kafka)
    collector = CollectorProcess(settings, tmp_path / "collector")
    await asyncio.to_thread(collector.start, port)
    sender = shipper(kind, tmp_path / kind, port)
    try:
        with disk_buffer_files_cleaned(), sender:
            # A steady stream: each restart lands while the shipper is sending.
            def feed() -> None:
                for i in range(LINES):
                    sender.log(
                        "tcp-test", 4242, f"Accepted publickey for lan from 10.20.1.5 port {40000 + i} ssh2 seq={i}"
                    )
                    time.sleep(0.001)

            feeder = asyncio.create_task(asyncio.to_thread(feed))
            for _ in range(RESTARTS):
                await asyncio.sleep(1.0)
                assert await asyncio.to_thread(collector.terminate) == 0, collector.output()
                await asyncio.to_thread(collector.start, port)
            await feeder

            async def all_lines() -> set[int] | None:
                got = await seen(settings)
                return got if len(got) == LINES else None

            try:
                await eventually(all_lines, timeout_secs=120, interval_secs=2)
            except AssertionError:
                lost = sorted(set(range(LINES)) - await seen(settings))
                raise AssertionError(f"{kind} lost {len(lost)} lines: {lost}\n{sender.output()[-2000:]}") from None
    finally:
        collector.stop()
