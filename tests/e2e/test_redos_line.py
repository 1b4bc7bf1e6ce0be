"""Issue 10 finding 2 end to end: a rule whose wildcard backtracked in Python's `re`, and a syslog
line made for it, do not stall the service.

Canhgac runs as its own process (`canhgac run`: collectors, normalizer, detector, alert indexer and
the API on one event loop, as deployed on a small site). The line goes in over syslog TCP, and while
the detector has it, `/healthz` must keep answering; `/rules/test` must answer the same rule on the
same text; and an ordinary line sent after it must still raise its alert, which proves the detector
got past the evil line. Before the fix the 3,000-character line would hold the process (and the
GIL) for longer than any wait here, so every one of those checks failed. The service runs in a
child process so that a stalled one fails the test instead of freezing it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from canhgac.api.users.models import UserCreate
from canhgac.core.store import make_client
from pydantic import SecretStr

from canhgac.cmd_users import create_user
from canhgac.demo_feed import send_lines
from tests.conftest import eventually, free_port

pytestmark = pytest.mark.e2e
PASSWORD = "redos e2e password, long enough"
EVIL_VALUE = "*a*a*a*a*a*a*b"
RULE = f"""title: Backtracking bait
id: 7c1f0f4e-4f7e-4a39-9d7e-2b8f6a1c0d01
status: experimental
author: Canhgac SOC test
logsource:
    product: linux
detection:
    sel:
        message: '{EVIL_VALUE}'
    condition: sel
level: high
"""


def plain(settings: Any) -> dict[str, Any]:
    """The settings as a YAML-able mapping, secrets included (model_dump masks SecretStr)."""

    def default(value: object) -> object:
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        if isinstance(value, (set, frozenset, tuple)):
            return list(value)
        return str(value)

    return json.loads(json.dumps(settings.model_dump(mode="python", exclude_defaults=True), default=default))


async def test_redos_line_does_not_stall_the_service(test_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    (rules_dir / "bait.yml").write_text(RULE, encoding="utf-8")
    syslog_port = free_port()
    settings = test_settings.model_copy(
        update={
            "rules": test_settings.rules.model_copy(
                update={"paths": (str(rules_dir),), "include_bundled_packs": False}
            ),
            "collectors": test_settings.collectors.model_copy(
                update={"syslog_tcp": test_settings.collectors.syslog_tcp.model_copy(update={"port": syslog_port})}
            ),
        }
    )
    config = tmp_path / "canhgac.yml"
    config.write_text(yaml.safe_dump(plain(settings)), encoding="utf-8")
    log = (tmp_path / "canhgac.log").open("wb")
    base = f"http://127.0.0.1:{settings.api.port}"
    client = make_client(settings.opensearch, component="api")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "canhgac",
        "--config",
        str(config),
        "run",
        "--stages",
        "normalizer,detector,alert-indexer",
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as api:

            async def healthy() -> bool:
                assert proc.returncode is None, (tmp_path / "canhgac.log").read_text()[-3000:]
                try:
                    return (await api.get("/healthz")).status_code == 200
                except httpx.HTTPError:
                    return False

            await eventually(healthy, timeout_secs=120)
            await create_user(settings, UserCreate(username="redos", role="analyst", password=PASSWORD))
            token = (await api.post("/api/v1/auth/token", json={"username": "redos", "password": PASSWORD})).json()[
                "token"
            ]
            headers = {"Authorization": f"Bearer {token}"}

            evil = "<14>Nov 26 09:00:00 bait-host app[1]: " + "a" * 3000
            after = "<14>Nov 26 09:00:01 after-host app[1]: " + "a" * 10 + "b"
            await send_lines("127.0.0.1", syslog_port, [evil, after])
            # while the detector has the line, the process answers (a stalled one times out here)
            for _ in range(10):
                assert (await api.get("/healthz")).status_code == 200
                await asyncio.sleep(0.3)
            # the analyst's rule test runs the same matcher on the same text
            tested = await api.post(
                "/api/v1/rules/test",
                json={"yaml": RULE, "events": [{"message": "a" * 3000}, {"message": "a" * 3000 + "b"}]},
                headers=headers,
                timeout=30,
            )
            assert tested.status_code == 200, tested.text
            assert [r["matched"] for r in tested.json()["results"]] == [[], ["7c1f0f4e-4f7e-4a39-9d7e-2b8f6a1c0d01"]]

            async def alerted_hosts() -> set[str] | None:
                assert proc.returncode is None
                index = settings.opensearch.alerts_index
                if not await client.indices.exists(index=index):
                    return None
                await client.indices.refresh(index=index)
                found = await client.search(index=index, body={"size": 10, "query": {"match_all": {}}})
                hosts = {h["_source"]["host"]["name"] for h in found["hits"]["hits"]}
                return hosts or None

            # the line after the evil one was matched: the detector went past it
            assert await eventually(alerted_hosts, timeout_secs=90) == {"after-host"}
            assert (await api.get("/healthz")).status_code == 200
    finally:
        await client.close()
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        log.close()
