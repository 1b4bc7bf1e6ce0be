"""`canhgac run` started while Kafka is down: collectors listen at once, accept and spool; the
process answers /metrics and /healthz (and /readyz says the stages wait); when Kafka comes up, the
spool drains into the raw topic and the stages start.

"Kafka comes up later" is a TCP relay on a port of our own, closed at first, that then forwards to
the shared Kafka: to a client it is a broker that was down and came up (the shared Kafka itself is
never stopped). Before this, `canhgac run` waited for Kafka before opening any collector port and
gave up after 120 s, so the spool could not cover an outage that existed at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from pathlib import Path

import httpx
import pytest
from canhgac.core.config import Settings

from canhgac.runtime import Runtime
from tests.conftest import KAFKA, eventually, free_port
from tests.integration.collectors.helpers import read_raw

pytestmark = pytest.mark.integration


class LateBroker:
    """Listens on `port` only after `start()`, relaying every connection to the real Kafka."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.server: asyncio.Server | None = None
        self.pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = KAFKA.rsplit(":", 1)
        up_reader, up_writer = await asyncio.open_connection(host, int(port))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        tasks = [asyncio.create_task(pipe(reader, up_writer)), asyncio.create_task(pipe(up_reader, writer))]
        self.pipes.update(tasks)
        await asyncio.gather(*tasks, return_exceptions=True)

    async def stop(self) -> None:
        if self.server:
            self.server.close()
        for task in self.pipes:
            task.cancel()
        await asyncio.gather(*self.pipes, return_exceptions=True)


def can_connect(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def send_syslog(port: int, lines: list[str]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall("".join(f"<13>Jan  1 00:00:00 host app: {line}\n" for line in lines).encode())


def sample(text: str, name: str, **labels: str) -> float | None:
    """One sample's value from Prometheus' text format, or None."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_collectors_accept_and_spool_while_kafka_is_down_then_deliver(
    test_settings: Settings, tmp_path: Path
) -> None:
    broker = LateBroker(free_port())
    syslog_port, metrics_port = free_port(), free_port()
    settings = test_settings.model_copy(
        update={
            "kafka": test_settings.kafka.model_copy(update={"bootstrap_servers": f"127.0.0.1:{broker.port}"}),
            "collectors": test_settings.collectors.model_copy(
                update={
                    "syslog_tcp": test_settings.collectors.syslog_tcp.model_copy(update={"port": syslog_port}),
                    "spool": test_settings.collectors.spool.model_copy(
                        update={"retry_interval_secs": 0.5, "kafka_timeout_ms": 3000, "fsync_interval_ms": 5}
                    ),
                }
            ),
            "metrics_listener": test_settings.metrics_listener.model_copy(update={"port": metrics_port}),
        }
    )
    runtime = Runtime(settings, stages=("normalizer",), api=False)
    task = asyncio.create_task(runtime.run())
    lines = [f"spooled-at-start seq={i}" for i in range(50)]
    try:
        # The collector listens although no broker answers (before: not within 120 s, then exit).
        await eventually(lambda: asyncio.to_thread(can_connect, syslog_port), timeout_secs=45)
        await asyncio.to_thread(send_syslog, syslog_port, lines)

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{metrics_port}") as http:
            assert (await http.get("/healthz")).status_code == 200

            async def spooled() -> bool:
                text = (await http.get("/metrics")).text
                return sample(text, "canhgac_records_spooled_total", collector="syslog-tcp") == len(lines)

            await eventually(spooled, timeout_secs=30)
            ready = await http.get("/readyz")
            assert ready.status_code == 503 and "waiting" in ready.json()["reason"]
            assert not runtime.started.is_set()

            await broker.start()  # Kafka "comes up"

            async def is_ready() -> bool:
                return (await http.get("/readyz")).status_code == 200

            await eventually(is_ready, timeout_secs=60)

        records = await read_raw(test_settings, len(lines), timeout_secs=60)
        assert sorted(r["message"].split(": ", 1)[1] for r in records) == sorted(lines)
        assert len(records) == len(lines)  # delivered once each
    finally:
        runtime.request_stop()
        await asyncio.wait_for(task, 60)
        await broker.stop()
