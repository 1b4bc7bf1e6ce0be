"""Every rsyslog and syslog-ng configuration in docs/sources/, run verbatim by the real shipper
(Debian's packages, foreground, private configuration and work directory) into the real
collector, normaliser and indexer: a fixed set of lines, asserted field by field as stored in
OpenSearch.

The lines are what local programs write through syslog(3): sshd (a failure and a login), sudo
(authpriv, no PID) and an application writing Vietnamese. The shippers run in UTC+7, as the
province's servers do, so RFC 3164's zone-less stamps are read in the source's `timezone`.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from canhgac.core.config import Settings, SourceConfig
from canhgac.core.event import get_path
from canhgac.core.store import make_client

from canhgac.runtime import Runtime
from tests.conftest import eventually
from tests.integration.shippers import (
    Rsyslogd,
    Shipper,
    SyslogNg,
    disk_buffer_files_cleaned,
    doc_configs,
    make_pki,
    swap,
)

pytestmark = [pytest.mark.integration, pytest.mark.serial]
HOST = "tthdl-app01"


@dataclass(frozen=True)
class Line:
    tag: str
    pid: int | None
    pri: int
    text: str
    fields: dict[str, Any]  # dotted ECS path -> value, as stored


LINES = [
    Line(
        "sshd",
        4242,
        38,
        "Failed password for root from 203.0.113.66 port 50022 ssh2",
        {
            "process.name": "sshd",
            "process.pid": 4242,
            "log.syslog.facility.name": "auth",
            "log.syslog.severity.name": "Informational",
            "event.category": ["authentication"],
            "event.outcome": "failure",
            "event.action": "ssh_login",
            "user.name": "root",
            "source.ip": "203.0.113.66",
            "source.port": 50022,
            "system.auth.ssh.method": "password",
        },
    ),
    Line(
        "sshd",
        4243,
        38,
        "Accepted publickey for lan from 10.20.1.5 port 40022 ssh2",
        {
            "process.name": "sshd",
            "process.pid": 4243,
            "event.category": ["authentication", "session"],
            "event.outcome": "success",
            "user.name": "lan",
            "source.ip": "10.20.1.5",
            "source.port": 40022,
            "system.auth.ssh.method": "publickey",
        },
    ),
    Line(
        "sudo",
        None,
        85,
        "nguyenvana : TTY=pts/0 ; PWD=/home/nguyenvana ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx",
        {
            "log.syslog.facility.name": "authpriv",
            "log.syslog.severity.name": "Notice",
            "event.action": "sudo_command",
            "user.name": "nguyenvana",
            "user.effective.name": "root",
            "process.executable": "/usr/bin/systemctl",
            "process.command_line": "/usr/bin/systemctl restart nginx",
            "process.parent.name": "sudo",
        },
    ),
    Line(
        "motcua",
        77,
        14,
        "Hồ sơ HS2026-001234 đã được tiếp nhận (cán bộ: Nguyễn Văn A)",
        {
            "process.name": "motcua",
            "process.pid": 77,
            "log.syslog.facility.name": "user",
            "log.syslog.severity.name": "Informational",
        },
    ),
]


@dataclass(frozen=True)
class Case:
    shipper: str
    page: str
    config: str
    collector: str  # config section
    syslog_format: str  # "rfc5424" or "rfc3164": what the config sends
    tls: bool = False

    @property
    def id(self) -> str:
        return f"{self.shipper}:{self.config}"


CASES = [
    Case("rsyslog", "rsyslog.md", "60-canhgac.conf", "syslog_tcp", "rfc5424"),
    Case("rsyslog", "rsyslog.md", "60-canhgac-traditional.conf", "syslog_tcp", "rfc3164"),
    Case("rsyslog", "rsyslog.md", "60-canhgac-relp.conf", "relp", "rfc5424"),
    Case("rsyslog", "rsyslog.md", "60-canhgac-relp-tls.conf", "relp", "rfc5424", tls=True),
    Case("syslog-ng", "syslog-ng.md", "canhgac.conf", "syslog_tcp", "rfc5424"),
    Case("syslog-ng", "syslog-ng.md", "canhgac-network.conf", "syslog_tcp", "rfc3164"),
    Case("syslog-ng", "syslog-ng.md", "canhgac-tls.conf", "syslog_tls", "rfc5424", tls=True),
]


def test_every_documented_shipper_config_is_tested() -> None:
    documented = {("rsyslog", n) for n in doc_configs("rsyslog.md")} | {
        ("syslog-ng", n) for n in doc_configs("syslog-ng.md")
    }
    assert documented == {(c.shipper, c.config) for c in CASES}


def settings_for(test_settings: Settings, case: Case, pki: Path) -> Settings:
    source = SourceConfig(id="tthdl-app01", agency="tthdl", allowed_addresses=("127.0.0.1/32",))
    c = test_settings.collectors
    sections: dict[str, Any] = {"syslog_tcp": c.syslog_tcp.model_copy(update={"enabled": False})}
    section = getattr(c, case.collector)
    update: dict[str, Any] = {"enabled": True, "port": 0, "default_source_id": None}
    if case.tls:
        update |= {
            "cert_file": str(pki / "server.pem"),
            "key_file": str(pki / "server.key"),
            "client_ca_file": str(pki / "ca.pem"),
            "require_client_cert": True,
        }
    sections[case.collector] = section.model_copy(update=update)
    return test_settings.model_copy(update={"sources": (source,), "collectors": c.model_copy(update=sections)})


def shipper_for(case: Case, workdir: Path, port: int, pki: Path) -> Shipper:
    config = doc_configs(case.page)[case.config]
    if case.shipper == "rsyslog":
        config = swap(config, 'target="soc-collector.tinh.gov.vn"', 'target="127.0.0.1"')
        documented_port = {"relp": "20514"}.get(case.collector, "5514")
        config = swap(config, f'port="{documented_port}"', f'port="{port}"')
        if case.tls:
            config = swap(config, 'tls.permittedPeer=["soc-collector.tinh.gov.vn"]', 'tls.permittedPeer=["localhost"]')
            for documented, ours in [
                ("ca.pem", "ca.pem"),
                ("agency.pem", f"{HOST}.pem"),
                ("agency.key", f"{HOST}.key"),
            ]:
                config = swap(config, f'"/etc/rsyslog.d/canhgac/{documented}"', f'"{pki / ours}"')
        return Rsyslogd(workdir, config, hostname=HOST)
    config = swap(config, '"soc-collector.tinh.gov.vn"', '"127.0.0.1"')
    documented_port = {"syslog_tls": "6514"}.get(case.collector, "5514")
    config = swap(config, f"port({documented_port})", f"port({port})")
    if case.collector == "syslog_tls":
        for documented, ours in [
            ("ca.pem", "ca.pem"),
            ("agency.pem", "tthdl-app01.pem"),
            ("agency.key", "tthdl-app01.key"),
        ]:
            config = swap(config, f'"/etc/syslog-ng/canhgac/{documented}"', f'"{pki / ours}"')
    return SyslogNg(workdir, config, hostname=HOST)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_documented_config_stores_every_field(case: Case, test_settings: Settings, tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    pki.mkdir()
    make_pki(pki, "tthdl-app01")
    settings = settings_for(test_settings, case, pki)
    runtime = Runtime(settings, stages=("normalizer", "indexer"), api=False)
    task = asyncio.create_task(runtime.run())
    await asyncio.wait_for(runtime.started.wait(), 120)
    client = make_client(settings.opensearch, component="admin")
    index = f"{settings.opensearch.index_prefix}.*"
    try:
        (collector,) = runtime.collectors
        assert collector.port
        started = datetime.now(UTC)
        with disk_buffer_files_cleaned(), shipper_for(case, tmp_path / case.shipper, collector.port, pki) as shipper:
            await asyncio.sleep(1)  # let it connect, as a host does long before it logs anything
            for line in LINES:
                shipper.log(line.tag, line.pid, line.text, pri=line.pri)

            async def stored() -> list[dict] | None:
                await client.indices.refresh(index=index, allow_no_indices=True)
                found = await client.search(index=index, body={"size": 50}, allow_no_indices=True)
                hits = [h["_source"] for h in found["hits"]["hits"]]
                return hits if len(hits) >= len(LINES) else None

            try:
                events = await eventually(stored, timeout_secs=60)
            except AssertionError:
                raise AssertionError(f"{case.id}: not stored\n{shipper.output()[-2000:]}") from None
            await asyncio.sleep(1)
            events = await stored() or events
            # Stop the shipper off the event loop: the collector runs on this loop and must answer
            # the shipper's goodbye (RELP `close`), or the shipper waits out its shutdown timeout.
            await asyncio.to_thread(shipper.stop)
        ended = datetime.now(UTC)
    finally:
        await client.close()
        runtime.request_stop()
        await asyncio.wait_for(task, 60)

    assert len(events) == len(LINES), [e.get("message") for e in events]
    by_message = {e["message"]: e for e in events}
    assert set(by_message) == {line.text for line in LINES}, f"{case.id}: messages differ"
    for line in LINES:
        event = by_message[line.text]
        expected = {
            **line.fields,
            "host.hostname": HOST,
            "canhgac.source_id": "tthdl-app01",
            "canhgac.agency": "tthdl",
            "canhgac.collector": collector.name,
            "event.kind": "event",
        }
        if line.pid is None:
            expected["process.pid"] = None
        got = {path: get_path(event, path) for path in expected}
        assert got == expected, f"{case.id}: {line.text}"
        assert "pipeline_error" not in str(event.get("event", {}).get("kind"))
        stamp = datetime.fromisoformat(event["@timestamp"].replace("Z", "+00:00"))
        # RFC 3164 stamps have whole seconds, read in the source's zone (UTC+7, as the shipper's).
        assert started.replace(microsecond=0).timestamp() - 1 <= stamp.timestamp() <= ended.timestamp() + 1, (
            case.id,
            event["@timestamp"],
        )
        if case.syslog_format == "rfc5424":
            assert get_path(event, "log.syslog.version") == "1"
        else:
            assert get_path(event, "log.syslog.version") is None
        if case.tls:
            der = ssl.PEM_cert_to_DER_cert((pki / "tthdl-app01.pem").read_text())
            assert event["tls"]["client"] == {
                "subject": "CN=tthdl-app01,O=So TTTT,C=VN",
                "hash": {"sha256": hashlib.sha256(der).hexdigest().upper()},
            }
        else:
            assert "tls" not in event
