"""Syslog over UDP and TLS into the real Kafka: unknown senders refused and counted, over-long
datagrams truncated and flagged, TLS client subject recorded."""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
from pathlib import Path

import pytest
from canhgac.collectors.registry import build_collectors
from canhgac.core.config import SourceConfig
from canhgac.core.kafka import ensure_topics
from canhgac.core.metrics import Metrics

from tests.integration.collectors.helpers import read_raw

pytestmark = pytest.mark.integration


def with_collectors(settings, sources, **sections):  # type: ignore[no-untyped-def]
    c = settings.collectors
    update = {"syslog_tcp": c.syslog_tcp.model_copy(update={"enabled": False})}
    update |= {name: getattr(c, name).model_copy(update=values) for name, values in sections.items()}
    return settings.model_copy(update={"sources": sources, "collectors": c.model_copy(update=update)})


async def test_udp_datagrams_in_kafka_and_losses_counted(test_settings) -> None:
    source = SourceConfig(id="fw-udp", agency="so-tttt", allowed_addresses=("127.0.0.1/32",))
    settings = with_collectors(
        test_settings,
        (source,),
        syslog_udp={"enabled": True, "port": 0, "max_message_bytes": 256, "default_source_id": None},
    )
    await ensure_topics(settings.kafka)
    metrics = Metrics()
    (collector,) = build_collectors(settings, None, metrics)
    await collector.start()
    try:
        with (
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as known,
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger,
        ):
            stranger.bind(("127.0.0.2", 0))
            for i in range(200):
                known.sendto(
                    f"<134>Nov 26 10:00:00 fw01 kernel: DROP seq={i}\n".encode(), ("127.0.0.1", collector.port)
                )
                if i % 50 == 0:
                    await asyncio.sleep(0.01)  # stay under the loopback socket buffer
            known.sendto(b"<134>fw01 long: " + b"L" * 1000, ("127.0.0.1", collector.port))
            known.sendto(b"<134>fw01 bad utf8 \xff\xfe", ("127.0.0.1", collector.port))
            stranger.sendto(b"<134>not ours", ("127.0.0.1", collector.port))
        records = await read_raw(settings, 202)
    finally:
        await collector.stop()
    assert len(records) == 202
    seqs = sorted(int(r["message"].rsplit("=", 1)[1]) for r in records if "seq=" in r["message"])
    assert seqs == list(range(200))
    long = next(r for r in records if "long:" in r["message"])
    assert len(long["message"]) == 256 and "truncated" in long["framing_error"]
    assert "invalid UTF-8" in next(r for r in records if "bad utf8" in r["message"])["framing_error"]
    assert all(r["source_id"] == "fw-udp" and r["collector"] == "syslog-udp" for r in records)
    assert metrics.dropped.labels("syslog-udp", "unknown_sender")._value.get() == 1


def make_pki(d: Path) -> None:
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=Canhgac Test CA",
    )
    for name, cn in (("server", "localhost"), ("client", "so-tttt-fw01")):
        run(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/C=VN/O=So TTTT/CN={cn}",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        )
        run(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.crt",
            "-days",
            "2",
            "-copy_extensions",
            "copy",
        )


async def test_tls_with_client_certificate_records_subject(test_settings, tmp_path: Path) -> None:
    make_pki(tmp_path)
    source = SourceConfig(id="fw-tls", agency="so-tttt", allowed_addresses=("127.0.0.1/32",))
    settings = with_collectors(
        test_settings,
        (source,),
        syslog_tls={
            "enabled": True,
            "port": 0,
            "cert_file": str(tmp_path / "server.crt"),
            "key_file": str(tmp_path / "server.key"),
            "client_ca_file": str(tmp_path / "ca.crt"),
            "require_client_cert": True,
        },
    )
    await ensure_topics(settings.kafka)
    metrics = Metrics()
    (collector,) = build_collectors(settings, None, metrics)
    await collector.start()
    try:
        ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
        ctx.load_cert_chain(str(tmp_path / "client.crt"), str(tmp_path / "client.key"))
        _r, writer = await asyncio.open_connection("127.0.0.1", collector.port, ssl=ctx, server_hostname="localhost")
        lines = [f"<38>1 2026-11-26T03:10:{i:02d}Z fw01 sshd - - - tls seq={i}" for i in range(50)]
        writer.write(b"".join(b"%d %s" % (len(x.encode()), x.encode()) for x in lines))  # RFC 5425 octet counting
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        # Without a client certificate the handshake is refused.
        bare = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
        try:  # TLS 1.3 reports the refusal after the client's handshake completes: EOF or an alert
            r2, w2 = await asyncio.open_connection("127.0.0.1", collector.port, ssl=bare, server_hostname="localhost")
            w2.write(b"5 hello")
            await w2.drain()
            assert await asyncio.wait_for(r2.read(), 10) == b""
        except (ssl.SSLError, ConnectionError):
            pass
        records = await read_raw(settings, 50)
    finally:
        await collector.stop()
    assert [r["message"] for r in records] == lines
    assert records[0]["peer"]["tls_subject"] == "CN=so-tttt-fw01,O=So TTTT,C=VN"
    assert records[0]["collector"] == "syslog-tls"
