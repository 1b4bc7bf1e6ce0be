"""Lookup tables and watch/allow lists on a running pipeline (real Kafka and OpenSearch, no
restart), written as the API's routes write them (the routes themselves run in the browser test
tests/e2e/test_console_intel.py and the authorisation matrix): a table maps an address to its
agency and information system and the event is stored enriched (its own agency, which decides
visibility, stays the source's); a watch list edited meanwhile changes what a rule matches; an
allow list in an exception suppresses."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from canhgac.api.exceptions.models import ExceptionCreate
from canhgac.api.exceptions.service import create_exception
from canhgac.api.lists import service as lists
from canhgac.api.lookups import service as lookups
from canhgac.core.errors import InvalidRequest
from canhgac.core.lookups import LookupRow
from canhgac.core.store import make_client
from canhgac.core.systems import systems_index
from canhgac.core.watchlists import LISTS
from canhgac.pipeline.detector import DetectorStage

from canhgac.demo_feed import send_lines
from canhgac.runtime import Runtime
from tests.conftest import eventually
from tests.integration.api.conftest import cleanup

pytestmark = pytest.mark.e2e

WATCH_RULE = "7b1f3c2a-5d4e-4f6a-8b9c-0d1e2f3a4b5c"
FAILED_PASSWORD = "06888d57-bcd1-55d5-82b9-261400ea7dfe"  # bundled: proves the detector saw an event
RULE = f"""title: SSH from a watched address
id: {WATCH_RULE}
status: experimental
author: Canhgac SOC test
logsource: {{product: linux, service: sshd}}
detection:
    sel:
        source.ip|expand: '%list:watched-ips%'
    condition: sel
level: high
"""


async def test_lookup_table_and_lists_apply_while_running(test_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "watch.yml").write_text(RULE)
    settings = test_settings.model_copy(
        update={
            "rules": test_settings.rules.model_copy(update={"paths": (str(rules_dir),), "reload_interval_secs": 0.5}),
            "pipeline": test_settings.pipeline.model_copy(
                update={"lookups": test_settings.pipeline.lookups.model_copy(update={"refresh_secs": 0.5})}
            ),
        }
    )
    cfg = settings.opensearch
    client = make_client(cfg, component="admin")
    # The inventory knows the system; the table points an address range at it.
    await client.index(
        index=systems_index(cfg),
        id="his-benhvien",
        body={"id": "his-benhvien", "name": "HIS Bệnh viện tỉnh", "agency": "so-yte", "security_level": 3},
        refresh="wait_for",
    )
    table = await lookups.put_table(
        client,
        cfg,
        "assets",
        "",
        [LookupRow(match="10.77.0.0/16", system="his-benhvien", owner="Phòng CNTT Sở Y tế")],
        "admin",
    )
    assert table["rows"][0]["agency"] == "so-yte"  # taken from the system
    with pytest.raises(InvalidRequest):
        await lookups.put_table(client, cfg, "bad", "", [LookupRow(match="10.0.0.1", system="no-such-system")], "admin")
    await lists.put_list(client, cfg, "watched-ips", "ip", "", ["192.0.2.250"], "analyst")

    runtime = Runtime(settings, stages=("normalizer", "indexer", "detector", "alert-indexer"), api=False)
    task = asyncio.create_task(runtime.run())
    await asyncio.wait_for(runtime.started.wait(), 120)
    detector = next(s for s in runtime.stages if isinstance(s, DetectorStage))
    suppressed = runtime.metrics.alerts_suppressed.labels("exception")
    try:
        assert runtime.collector is not None and runtime.collector.port
        port = runtime.collector.port

        async def send(host: str) -> None:
            line = f"<38>1 2026-12-06T03:00:00.000Z {host} sshd 4242 - - Failed password for root from 10.77.1.2 port 40000 ssh2"
            await send_lines("127.0.0.1", port, [line])

        async def alerts(rule_id: str, host: str) -> list[dict[str, Any]]:
            await client.indices.refresh(index=cfg.alerts_index, ignore_unavailable=True)
            found = await client.search(
                index=cfg.alerts_index,
                body={"size": 50, "query": {"bool": {"filter": [{"term": {"rule.id": rule_id}}]}}},
                ignore_unavailable=True,
            )
            return [h["_source"] for h in found["hits"]["hits"] if h["_source"]["host"]["name"] == host]

        async def seen(host: str) -> bool | None:  # the detector has processed this host's event
            return bool(await alerts(FAILED_PASSWORD, host)) or None

        # Before the list names the address: the event is enriched, the watch rule does not fire.
        await send("lk-before")
        await eventually(lambda: seen("lk-before"), timeout_secs=60)

        async def stored() -> dict[str, Any] | None:
            await client.indices.refresh(index=f"{cfg.index_prefix}.*", ignore_unavailable=True)
            found = await client.search(
                index=f"{cfg.index_prefix}.*",
                body={"size": 1, "query": {"term": {"host.name": "lk-before"}}},
                ignore_unavailable=True,
            )
            hits = found["hits"]["hits"]
            return hits[0]["_source"] if hits else None

        event = await eventually(stored, timeout_secs=60)
        assert event["canhgac"]["agency"] == "so-tttt"  # the proved source's: decides visibility
        assert event["canhgac"]["lookup"]["source"] == {
            "table": "assets",
            "match": "10.77.0.0/16",
            "agency": "so-yte",
            "system": "his-benhvien",
            "owner": "Phòng CNTT Sở Y tế",
        }
        assert not await alerts(WATCH_RULE, "lk-before")

        # The analyst adds the range to the watch list: the same rule now fires, no restart.
        edited = await lists.edit_list(client, cfg, "watched-ips", ["10.77.0.0/16"], [], "analyst")
        assert edited["count"] == 2
        await eventually(lambda: _now(LISTS.contains("watched-ips", "10.77.1.2")), timeout_secs=30)
        await send("lk-after")
        await eventually(lambda: _some(alerts(WATCH_RULE, "lk-after")), timeout_secs=60)

        # An allow list in an exception: hosts in it are suppressed for the watch rule.
        await lists.put_list(client, cfg, "allowed-hosts", "string", "", ["LK-ALLOWED"], "analyst")
        await create_exception(
            client,
            cfg.exceptions_index,
            ExceptionCreate(
                rule_id=WATCH_RULE,
                reason="the hospital's own scanner",
                conditions=[{"field": "host.name", "op": "in_list", "value": "allowed-hosts"}],
            ),
            by="analyst",
        )
        await eventually(
            lambda: _now(LISTS.contains("allowed-hosts", "lk-allowed") and len(detector.config.exceptions) > 0),
            timeout_secs=30,
        )
        before = suppressed._value.get()
        await send("lk-allowed")
        await eventually(lambda: seen("lk-allowed"), timeout_secs=60)
        assert suppressed._value.get() > before
        assert not await alerts(WATCH_RULE, "lk-allowed")

    finally:
        await client.close()
        runtime.request_stop()
        await asyncio.wait_for(task, 60)
        await cleanup(settings)


async def _some(found: Any) -> bool | None:
    return bool(await found) or None


async def _now(value: bool) -> bool | None:
    return value or None
