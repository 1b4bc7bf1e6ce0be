"""Issue 12: a file input may read for a source declared through the API, with that source's live
declaration: its format and agency as they are now; disabled, the input pauses (the lines stay in
the file, read once the source is enabled again), as Filebeat or Splunk do with a disabled input."""

from __future__ import annotations

from pathlib import Path

import pytest
from canhgac.api.indices import ensure_api_indices
from canhgac.api.sources.models import SourceCreate, SourceUpdate
from canhgac.api.sources.service import create_source, update_source
from canhgac.collectors.registry import build_collectors
from canhgac.core.config import FileInputConfig, FileTailConfig
from canhgac.core.kafka import ensure_topics
from canhgac.core.metrics import Metrics
from canhgac.core.store import make_client

from tests.conftest import eventually
from tests.integration.api.conftest import cleanup
from tests.integration.collectors.helpers import read_raw

pytestmark = pytest.mark.integration


def write(path: Path, lines: list[str]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(f"{line}\n" for line in lines))


async def test_file_input_follows_an_api_declared_source(test_settings, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    c = test_settings.collectors
    file_cfg = FileTailConfig(
        enabled=True,
        poll_interval_secs=0.1,
        inputs=(FileInputConfig(source_id="api-app", paths=(str(logs / "*.log"),)),),
    )
    settings = test_settings.model_copy(
        update={
            "sources_refresh_secs": 0.3,
            "collectors": c.model_copy(
                update={"syslog_tcp": c.syslog_tcp.model_copy(update={"enabled": False}), "file": file_cfg}
            ),
        }
    )
    await ensure_topics(settings.kafka)
    client = make_client(settings.opensearch, component="admin")
    await ensure_api_indices(client, settings.opensearch)
    await create_source(client, settings, SourceCreate(id="api-app", agency="so-yte", format="json"), by="admin")
    metrics = Metrics()
    received = metrics.received.labels("file")
    (collector,) = build_collectors(settings, None, metrics)
    await collector.start()
    try:
        write(logs / "app.log", ['{"n": 1}', '{"n": 2}'])
        await eventually(lambda: _at_least(received, 2), timeout_secs=20, interval_secs=0.1)

        await update_source(client, settings, "api-app", SourceUpdate(enabled=False), by="admin")
        await eventually(lambda: _paused(collector), timeout_secs=20, interval_secs=0.1)
        write(logs / "app.log", ['{"n": 3}'])  # while disabled: stays in the file
        await update_source(client, settings, "api-app", SourceUpdate(enabled=True, format="nginx"), by="admin")
        await eventually(lambda: _at_least(received, 3), timeout_secs=20, interval_secs=0.1)

        records = await read_raw(settings, 3, settle_secs=1.0)
    finally:
        await collector.stop()
        await client.close()
        await cleanup(settings)
    assert [r["message"] for r in records] == ['{"n": 1}', '{"n": 2}', '{"n": 3}']
    assert {r["source_id"] for r in records} == {"api-app"} and {r["agency"] for r in records} == {"so-yte"}
    assert [r["format"] for r in records] == ["json", "json", "nginx-access"]  # the declaration as it was


async def _at_least(counter, n: int) -> bool:  # type: ignore[no-untyped-def]
    return counter._value.get() >= n


async def _paused(collector) -> bool:  # type: ignore[no-untyped-def]
    return all(item.paused for item in collector.inputs)
