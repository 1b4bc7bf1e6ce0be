"""What analysts change through the API reaches a running detector within seconds, no restart:
an exception suppresses (and counts) a rule's matches, a disabled rule stops alerting, an uploaded
rule starts alerting. Syslog in, alerts out, through real Kafka and OpenSearch."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from canhgac.api.exceptions.models import ExceptionCreate
from canhgac.api.exceptions.service import create_exception
from canhgac.api.indices import ensure_api_indices
from canhgac.api.rules.service import set_enabled, upload_rule
from canhgac.core.store import make_client
from canhgac.pipeline.detector import DetectorStage

from canhgac.demo_feed import send_lines
from canhgac.runtime import Runtime
from tests.conftest import eventually
from tests.integration.api.conftest import cleanup

pytestmark = pytest.mark.e2e

FAILED_PASSWORD = "06888d57-bcd1-55d5-82b9-261400ea7dfe"
ROOT_ACCEPTED = "bdcfecfc-b377-5228-969a-dce29a1f6ea7"
UPLOADED = "c4d1e2f3-0a1b-4c5d-8e9f-102132435465"
UPLOAD = f"""
title: SSH login by a service account
id: {UPLOADED}
author: SOC tester
logsource: {{product: linux, service: sshd}}
detection:
  sel: {{message|contains: 'Accepted password for svc_'}}
  condition: sel
level: medium
"""


async def test_exception_disable_and_upload_apply_without_restart(test_settings) -> None:
    runtime = Runtime(test_settings, stages=("normalizer", "detector", "alert-indexer"), api=False)
    task = asyncio.create_task(runtime.run())
    await asyncio.wait_for(runtime.started.wait(), 120)
    client = make_client(test_settings.opensearch, component="admin")
    cfg = test_settings.opensearch
    detector = next(s for s in runtime.stages if isinstance(s, DetectorStage))
    suppressed = runtime.metrics.alerts_suppressed.labels("exception")
    try:
        assert runtime.collector is not None and runtime.collector.port
        await ensure_api_indices(client, cfg)
        t0 = datetime.now(UTC) - timedelta(minutes=1)

        def line(i: int, host: str, text: str) -> str:
            ts = (t0 + timedelta(seconds=i)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            return f"<38>1 {ts} {host} sshd {4000 + i} - - {text}"

        async def alerts() -> list[dict]:
            await client.indices.refresh(index=cfg.alerts_index, ignore_unavailable=True)
            found = await client.search(index=cfg.alerts_index, body={"size": 200}, ignore_unavailable=True)
            return [h["_source"] for h in found["hits"]["hits"]]

        def fired(found: list[dict], rule_id: str, host: str) -> list[dict]:
            return [a for a in found if a["rule"]["id"] == rule_id and a["host"]["name"] == host]

        # Before: the root login alerts; the service-account login has no rule yet.
        await send_lines(
            "127.0.0.1",
            runtime.collector.port,
            [
                line(0, "before01", "Accepted password for svc_backup from 10.0.0.5 port 40000 ssh2"),
                line(1, "before01", "Accepted password for root from 10.0.0.5 port 40001 ssh2"),
            ],
        )
        await eventually(lambda: _has(alerts, ROOT_ACCEPTED, "before01", fired), timeout_secs=30)
        assert not fired(await alerts(), UPLOADED, "before01")

        # The analysts' changes, written as the API writes them.
        await create_exception(
            client,
            cfg.exceptions_index,
            ExceptionCreate(
                rule_id=FAILED_PASSWORD,
                reason="the SOC's vulnerability scanner",
                conditions=[
                    {"field": "source.ip", "op": "cidr", "value": "203.0.113.0/24"},
                    {"field": "user.name", "op": "startswith", "value": "SCAN"},
                ],
            ),
            by="analyst",
        )
        await set_enabled(client, test_settings, ROOT_ACCEPTED, False, by="admin")
        await upload_rule(client, test_settings, UPLOAD, by="admin")

        async def detector_caught_up() -> bool:
            result = detector.load_result
            ids = {r.meta.id for r in result.rules} if result else set()
            return UPLOADED in ids and ROOT_ACCEPTED not in ids and len(detector.config.exceptions) == 1

        await eventually(detector_caught_up, timeout_secs=10, interval_secs=0.2)

        before = suppressed._value.get()
        await send_lines(
            "127.0.0.1",
            runtime.collector.port,
            [
                line(10, "after01", "Failed password for scanner from 203.0.113.50 port 41000 ssh2"),  # excepted
                line(11, "after02", "Failed password for scanner from 198.51.100.9 port 41001 ssh2"),  # other address
                line(12, "after01", "Accepted password for root from 10.0.0.5 port 41002 ssh2"),  # rule disabled
                line(13, "after01", "Accepted password for svc_backup from 10.0.0.5 port 41003 ssh2"),  # uploaded rule
            ],
        )
        await eventually(lambda: _has(alerts, UPLOADED, "after01", fired), timeout_secs=30)
        found = await eventually(lambda: _has(alerts, FAILED_PASSWORD, "after02", fired), timeout_secs=30)
        assert fired(found, UPLOADED, "after01")[0]["rule"]["author"] == "SOC tester"
        assert not fired(found, FAILED_PASSWORD, "after01")  # the exception held
        assert not fired(found, ROOT_ACCEPTED, "after01")  # the rule is off
        assert suppressed._value.get() - before == 1  # counted, not silently dropped
    finally:
        await client.close()
        runtime.request_stop()
        await asyncio.wait_for(task, 60)
        await cleanup(test_settings)


async def _has(alerts, rule_id: str, host: str, fired):  # type: ignore[no-untyped-def]
    found = await alerts()
    return found if fired(found, rule_id, host) else None
