"""`canhgac run` as a real process: SIGTERM drains (exit 0, batches committed), and a second run
picks up where the first stopped — every line indexed exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
import yaml

from canhgac.demo_feed import send_lines
from tests.conftest import REPO, eventually, free_port
from tests.integration.test_indexer_restart import count_docs

pytestmark = pytest.mark.e2e


async def start_process(config: Path, log_path: Path) -> asyncio.subprocess.Process:
    log = open(log_path, "ab")
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "canhgac",
        "--config",
        str(config),
        "run",
        stdout=log,
        stderr=log,
        cwd=str(REPO),
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def wait_listening(port: int, proc: asyncio.subprocess.Process, log_path: Path) -> None:
    async def up() -> bool:
        assert proc.returncode is None, log_path.read_text()[-3000:]
        try:
            _r, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return True
        except OSError:
            return False

    await eventually(up, timeout_secs=120, interval_secs=0.3)


async def test_sigterm_drains_and_restart_resumes(test_settings, tmp_path: Path) -> None:
    syslog_port = free_port()
    data = test_settings.model_dump(mode="json")
    data["collectors"]["syslog_tcp"]["port"] = syslog_port
    config = tmp_path / "canhgac.yml"
    config.write_text(yaml.safe_dump(data))
    log_path = tmp_path / "run.log"
    n = 2000

    proc = await start_process(config, log_path)
    try:
        await wait_listening(syslog_port, proc, log_path)
        lines = [f"<14>Nov 26 09:00:00 srv{i % 3} app[1]: drain-test line {i}" for i in range(n)]
        await send_lines("127.0.0.1", syslog_port, lines[: n // 2])
        await asyncio.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        rc = await asyncio.wait_for(proc.wait(), 60)
        assert rc == 0, log_path.read_text()[-3000:]
        assert "stopped" in log_path.read_text()

        proc = await start_process(config, log_path)
        await wait_listening(syslog_port, proc, log_path)
        await send_lines("127.0.0.1", syslog_port, lines[n // 2 :])

        async def all_indexed() -> int | None:
            c = await count_docs(test_settings)
            return c if c >= n else None

        await eventually(all_indexed, timeout_secs=120)
        await asyncio.sleep(1.5)
        assert await count_docs(test_settings) == n
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 60)
