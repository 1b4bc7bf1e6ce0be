"""Rule files change under a running detector: a new rule fires within seconds, a file that fails
to load never unloads working rules, and a removed rule stops firing — no restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from canhgac.core.store import make_client

from canhgac.demo_feed import send_lines
from canhgac.runtime import Runtime
from tests.conftest import eventually

pytestmark = pytest.mark.e2e

RULE = """title: Dossier export by a suspended account
id: 5d6c2d1e-1f0a-4c1b-9a57-0d7b3c9e2a11
status: experimental
author: Canhgac SOC test
logsource:
    product: linux
detection:
    keywords:
        - 'EXPORT-MARKER-{n}'
    condition: keywords
level: high
"""


async def test_rules_change_while_running(test_settings, tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    settings = test_settings.model_copy(
        update={
            "rules": test_settings.rules.model_copy(update={"paths": (str(rules_dir),), "reload_interval_secs": 0.5})
        }
    )
    runtime = Runtime(settings, stages=("normalizer", "detector", "alert-indexer"), api=False)
    task = asyncio.create_task(runtime.run())
    await asyncio.wait_for(runtime.started.wait(), 120)
    client = make_client(settings.opensearch, component="admin")
    index = settings.opensearch.alerts_index

    async def titles() -> set[str]:
        await client.indices.refresh(index=index)
        found = await client.search(index=index, body={"size": 100, "query": {"match_all": {}}})
        return {h["_source"]["rule"]["title"] + "|" + h["_source"]["host"]["name"] for h in found["hits"]["hits"]}

    try:
        assert runtime.collector is not None and runtime.collector.port
        port = runtime.collector.port

        async def send(host: str, marker: str) -> None:
            await send_lines("127.0.0.1", port, [f"<14>Nov 26 09:00:00 {host} motcua[1]: user x {marker}"])

        await send("before-rule", "EXPORT-MARKER-1")
        await asyncio.sleep(2)
        assert not any(t.endswith("|before-rule") for t in await titles())

        (rules_dir / "export.yml").write_text(RULE.format(n=1))
        await asyncio.sleep(1.5)  # the detector's reload cycle is 0.5 s
        await send("after-rule", "EXPORT-MARKER-1")

        async def fired(host: str):  # type: ignore[no-untyped-def]
            return any(t.endswith("|" + host) for t in await titles()) or None

        await eventually(lambda: fired("after-rule"), timeout_secs=30)

        # A broken edit next to it: the working rule keeps firing.
        (rules_dir / "broken.yml").write_text("title: [unclosed\n")
        await asyncio.sleep(1.5)
        await send("with-broken-file", "EXPORT-MARKER-1")
        await eventually(lambda: fired("with-broken-file"), timeout_secs=30)

        # A broken edit of the rule's own file: its previous version stays in service.
        (rules_dir / "export.yml").write_text(RULE.format(n=1).replace("condition: keywords", "condition: nope and"))
        await asyncio.sleep(1.5)
        await send("half-edited", "EXPORT-MARKER-1")
        await eventually(lambda: fired("half-edited"), timeout_secs=30)

        # Changed: the rule now wants another marker, so the old one no longer fires.
        (rules_dir / "export.yml").write_text(RULE.format(n=2))
        await asyncio.sleep(1.5)
        await send("changed-old", "EXPORT-MARKER-1")
        await send("changed-new", "EXPORT-MARKER-2")
        await eventually(lambda: fired("changed-new"), timeout_secs=30)
        assert not await fired("changed-old")

        # Removed: nothing fires.
        (rules_dir / "export.yml").unlink()
        await asyncio.sleep(1.5)
        await send("removed", "EXPORT-MARKER-2")
        await asyncio.sleep(3)
        assert not await fired("removed")
    finally:
        await client.close()
        runtime.request_stop()
        await asyncio.wait_for(task, 60)
