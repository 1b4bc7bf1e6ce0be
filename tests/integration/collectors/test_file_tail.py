"""File tail into the real Kafka: multi-line records, rotation by rename, copytruncate, and a
restart that resumes from the acknowledged checkpoint: every record exactly once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from canhgac.collectors.registry import build_collectors
from canhgac.core.config import FileInputConfig, FileTailConfig, SourceConfig
from canhgac.core.kafka import ensure_topics
from canhgac.core.metrics import Metrics

from tests.conftest import eventually
from tests.integration.collectors.helpers import read_raw

pytestmark = pytest.mark.integration


def record(seq: int, trace: bool = False) -> str:
    text = f"2026-11-26 10:00:{seq % 60:02d} ERROR app seq={seq}\n"
    if trace:
        text += 'Traceback (most recent call last):\n  File "app.py", line 3, in <module>\nValueError: boom\n'
    return text


def append(path: Path, seqs: range, trace_every: int = 7) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(record(i, trace=i % trace_every == 0) for i in seqs))


async def test_rotation_truncation_and_restart_lose_and_repeat_nothing(test_settings, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    source = SourceConfig(id="motcua-app", agency="vp-ubnd", format="java-log")
    c = test_settings.collectors
    settings = test_settings.model_copy(
        update={
            "sources": (source,),
            "collectors": c.model_copy(
                update={
                    "syslog_tcp": c.syslog_tcp.model_copy(update={"enabled": False}),
                    "file": FileTailConfig(
                        enabled=True,
                        poll_interval_secs=0.1,
                        inputs=(
                            FileInputConfig(
                                **{
                                    "source_id": "motcua-app",
                                    "paths": (str(logs / "*.log"),),
                                    "multiline_start_pattern": r"^\d{4}-\d{2}-\d{2} ",
                                    "multiline_timeout_secs": 0.3,
                                }
                            ),
                        ),
                    ),
                }
            ),
        }
    )
    await ensure_topics(settings.kafka)
    metrics = Metrics()
    app, other = logs / "app.log", logs / "other.log"
    append(app, range(0, 100))
    append(other, range(1000, 1005))

    (collector,) = build_collectors(settings, None, metrics)
    await collector.start()
    received = metrics.received.labels("file")
    await eventually(lambda: _at_least(received, 105), timeout_secs=20, interval_secs=0.1)
    # Rotation by rename: the writer still appends to its open file, then a new app.log appears.
    os.rename(app, logs / "app.log.1")
    append(logs / "app.log.1", range(100, 110))
    append(app, range(110, 130))
    # copytruncate: other.log is copied away and truncated, then written again (shorter than before).
    with open(other, "r+") as f:
        f.truncate(0)
    append(other, range(1005, 1008))
    await eventually(lambda: _at_least(received, 138), timeout_secs=20, interval_secs=0.1)
    await collector.stop()

    append(app, range(130, 160))  # written while the collector is down
    (collector,) = build_collectors(settings, None, Metrics())
    await collector.start()
    try:
        expected = [*range(0, 160), *range(1000, 1008)]
        records = await read_raw(settings, len(expected), settle_secs=2.0)
    finally:
        await collector.stop()
    seqs = sorted(int(r["message"].split("seq=")[1].split("\n")[0]) for r in records)
    assert seqs == sorted(expected)  # no loss, no duplicate
    trace = next(r for r in records if "seq=14\n" in r["message"])
    assert trace["message"].endswith("ValueError: boom") and trace["message"].count("\n") == 3
    assert all(r["source_id"] == "motcua-app" and r["format"] == "java-log" for r in records)
    assert metrics.errors.labels("file", "file_truncated")._value.get() == 1


async def _at_least(counter, n: int) -> bool:  # type: ignore[no-untyped-def]
    return counter._value.get() >= n
