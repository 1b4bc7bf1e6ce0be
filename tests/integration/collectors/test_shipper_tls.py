"""Real syslog-ng over TLS (the config of docs/sources/syslog-ng.md) into the syslog_tls collector.

syslog-ng connects at start-up and stays quiet until it has a message; the collector must not
treat that quiet connection as a stalled handshake (which made syslog-ng wait `time-reopen()`,
60 s, after every connect). Handshake failures are logged and counted.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
from canhgac.collectors.registry import build_collectors
from canhgac.core.config import SourceConfig
from canhgac.core.kafka import ensure_topics
from canhgac.core.metrics import Metrics

from tests.conftest import eventually
from tests.integration.collectors.helpers import read_raw
from tests.integration.shippers import SyslogNg, disk_buffer_files_cleaned, doc_configs, make_pki, swap

pytestmark = [pytest.mark.integration, pytest.mark.serial]
HANDSHAKE_SECS = 1.0


def tls_settings(test_settings, pki: Path):  # type: ignore[no-untyped-def]
    source = SourceConfig(id="tthdl-tls", agency="tthdl", allowed_addresses=("127.0.0.1/32",))
    c = test_settings.collectors
    tls = c.syslog_tls.model_copy(
        update={
            "enabled": True,
            "port": 0,
            "cert_file": str(pki / "server.pem"),
            "key_file": str(pki / "server.key"),
            "client_ca_file": str(pki / "ca.pem"),
            "require_client_cert": True,
            "handshake_timeout_secs": HANDSHAKE_SECS,
        }
    )
    collectors = c.model_copy(
        update={"syslog_tcp": c.syslog_tcp.model_copy(update={"enabled": False}), "syslog_tls": tls}
    )
    return test_settings.model_copy(update={"sources": (source,), "collectors": collectors})


def syslog_ng_tls_config(pki: Path, port: int) -> str:
    config = doc_configs("syslog-ng.md")["canhgac-tls.conf"]
    config = swap(config, '"soc-collector.tinh.gov.vn"', '"127.0.0.1"')
    config = swap(config, "port(6514)", f"port({port})")
    for documented, ours in [
        ("ca.pem", "ca.pem"),
        ("agency.pem", "tthdl-web01.pem"),
        ("agency.key", "tthdl-web01.key"),
    ]:
        config = swap(config, f'"/etc/syslog-ng/canhgac/{documented}"', f'"{pki / ours}"')
    return config


async def test_syslog_ng_over_tls_idle_then_send_is_not_cut_off(test_settings, tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    pki.mkdir()
    make_pki(pki, "tthdl-web01")
    settings = tls_settings(test_settings, pki)
    await ensure_topics(settings.kafka)
    metrics = Metrics()
    (collector,) = build_collectors(settings, None, metrics)
    await collector.start()
    assert collector.port
    connections = metrics.connections.labels("syslog-tls")
    try:
        with disk_buffer_files_cleaned(), SyslogNg(tmp_path / "sng", syslog_ng_tls_config(pki, collector.port)) as sng:
            await asyncio.sleep(HANDSHAKE_SECS * 4)  # quiet, as a host with nothing to log
            sng.log("sshd", 4242, "Failed password for root from 203.0.113.66 port 50000 ssh2 seq=1")
            records = await read_raw(settings, 1, timeout_secs=30)
            assert [r["message"].rsplit(" ", 1)[1] for r in records] == ["seq=1"], sng.output()
            assert "time_reopen" not in sng.output() and "closed" not in sng.output(), sng.output()
            assert connections._value.get() == 1
    finally:
        await collector.stop()
    assert records[0]["peer"]["tls_subject"] == "CN=tthdl-web01,O=So TTTT,C=VN"
    assert metrics.errors.labels("syslog-tls", "tls_handshake_failed")._value.get() == 0


async def test_tls_handshake_failures_are_counted(test_settings, tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    pki.mkdir()
    make_pki(pki, "tthdl-web01")
    settings = tls_settings(test_settings, pki)
    await ensure_topics(settings.kafka)
    metrics = Metrics()
    (collector,) = build_collectors(settings, None, metrics)
    await collector.start()
    assert collector.port
    failed = metrics.errors.labels("syslog-tls", "tls_handshake_failed")
    try:
        # Plain text where TLS is expected, and a TLS client without a certificate.
        _r, writer = await asyncio.open_connection("127.0.0.1", collector.port)
        writer.write(b"<38>Dec  6 03:17:07 web01 sshd[1]: plain text\n")
        await writer.drain()
        bare = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        try:
            r2, w2 = await asyncio.open_connection("127.0.0.1", collector.port, ssl=bare, server_hostname="localhost")
            w2.write(b"5 hello")
            await w2.drain()
            await asyncio.wait_for(r2.read(), 10)
        except (ssl.SSLError, ConnectionError):
            pass

        async def counted() -> float:
            return failed._value.get() >= 2

        await eventually(counted, timeout_secs=20)
    finally:
        await collector.stop()
