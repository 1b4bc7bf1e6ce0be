"""Real logrotate with `copytruncate` under a steadily writing application: the file collector
loses only what logrotate itself loses.

logrotate copies the file, then truncates it. Lines the collector had not read yet when the file
was truncated are read from the copy (`app.log.1`, found by its first bytes); lines the
application wrote between the end of the copy and the truncate are in neither file: that window
(docs/ingest.md) is the only loss allowed, so every line written outside a logrotate run must be
stored, exactly once.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from canhgac.collectors.registry import build_collectors
from canhgac.core.config import FileInputConfig, FileTailConfig, SourceConfig
from canhgac.core.kafka import ensure_topics
from canhgac.core.metrics import Metrics

from tests.integration.collectors.helpers import read_raw

pytestmark = pytest.mark.integration
LINES = 1500
ROTATIONS = 3


class Writer(threading.Thread):
    """An application appending lines (O_APPEND, as loggers do) and noting when each was written."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.written_at: list[float] = []

    def run(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            for i in range(LINES):
                os.write(fd, f"2026-12-06 10:00:00 INFO portal request served seq={i}\n".encode())
                self.written_at.append(time.monotonic())
                time.sleep(0.002)
        finally:
            os.close(fd)


async def test_copytruncate_loses_only_logrotates_own_window(test_settings, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    live = logs / "app.log"
    live.touch()
    source = SourceConfig(id="portal-app", agency="portal-op", format="json")
    c = test_settings.collectors
    tail = FileTailConfig(
        enabled=True, poll_interval_secs=0.5, inputs=(FileInputConfig(source_id="portal-app", paths=(str(live),)),)
    )
    settings = test_settings.model_copy(
        update={
            "sources": (source,),
            "collectors": c.model_copy(
                update={"syslog_tcp": c.syslog_tcp.model_copy(update={"enabled": False}), "file": tail}
            ),
        }
    )
    rotate_conf = tmp_path / "logrotate.conf"
    rotate_conf.write_text(f"{live} {{\n    copytruncate\n    rotate 10\n    missingok\n}}\n")
    await ensure_topics(settings.kafka)
    metrics = Metrics()
    (collector,) = build_collectors(settings, None, metrics)
    await collector.start()
    rotations: list[tuple[float, float]] = []
    try:
        writer = Writer(live)
        writer.start()
        for _ in range(ROTATIONS):
            await asyncio.sleep(0.8)
            started = time.monotonic()
            await asyncio.to_thread(
                subprocess.run,
                ["logrotate", "-f", "-s", str(tmp_path / "logrotate.state"), str(rotate_conf)],
                check=True,
                capture_output=True,
            )
            rotations.append((started, time.monotonic()))
        await asyncio.to_thread(writer.join, 60)
        records = await read_raw(settings, LINES, timeout_secs=20, settle_secs=2)
    finally:
        await collector.stop()
    assert len(list(logs.glob("app.log.*"))) == ROTATIONS
    seqs = [int(r["message"].rsplit("seq=", 1)[1]) for r in records]
    assert len(seqs) == len(set(seqs)), "a line was stored twice"
    lost = set(range(LINES)) - set(seqs)
    outside = [i for i in sorted(lost) if not any(a <= writer.written_at[i] <= b for a, b in rotations)]
    assert not outside, f"lost {len(lost)} lines, {len(outside)} of them written outside logrotate's runs: {outside}"
    assert metrics.errors.labels("file", "file_truncated")._value.get() == ROTATIONS
