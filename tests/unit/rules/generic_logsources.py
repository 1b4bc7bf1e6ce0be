"""Sigma rules written with the taxonomy's field names of each generic log source, and the events
our parsers make of matching (and non-matching) records. Shared by the stream test
(tests/unit/rules/test_generic_logsources.py) and the converted-query test on real OpenSearch
(tests/integration/test_generic_logsources_query.py)."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

import canhgac.pipeline.normalize  # noqa: F401  (fills the parser registries)
import orjson
from canhgac.core.envelope import Peer, RawEnvelope
from canhgac.pipeline.normalizer import ParserCache, normalize

RECEIVED_AT = "2026-12-06T03:00:05.000000Z"


@dataclass(frozen=True)
class Case:
    name: str
    rule: str  # Sigma YAML
    fmt: str
    hit: str | dict[str, Any]  # a line (message) or a document (payload) that the rule must match
    miss: str | dict[str, Any]  # one it must not match

    @property
    def rule_id(self) -> str:
        return RULE_IDS[self.name]


RULE_IDS = {
    "firewall": "a1f0c0de-0000-4000-8000-000000000001",
    "webserver": "a1f0c0de-0000-4000-8000-000000000002",
    "proxy": "a1f0c0de-0000-4000-8000-000000000003",
    "dns": "a1f0c0de-0000-4000-8000-000000000004",
    "antivirus-windows": "a1f0c0de-0000-4000-8000-000000000005",
    "antivirus-ecs": "a1f0c0de-0000-4000-8000-000000000006",
    "linux-auth": "a1f0c0de-0000-4000-8000-000000000007",
}


def rule(name: str, logsource: str, detection: str) -> str:
    return (
        f"title: Generic {name} rule in taxonomy names\nid: {RULE_IDS[name]}\nstatus: test\n"
        f"logsource:\n{textwrap.indent(textwrap.dedent(logsource).strip(), '    ')}\n"
        f"detection:\n{textwrap.indent(textwrap.dedent(detection).strip(), '    ')}\nlevel: high\n"
    )


FGT = (
    '<189>date=2026-12-06 time=10:00:00 devname="FGT-SOTTTT" devid="FG100FTK19000001" logid="0000000013" '
    'type="traffic" subtype="forward" level="notice" srcip={src} srcport=51000 dstip=10.10.1.20 dstport={port} '
    'action="{action}" proto=6 policyid=12 tz="+0700"'
)
NGINX = '{ip} - - [06/Dec/2026:10:00:00 +0700] "GET /dvc/tra-cuu?{query} HTTP/1.1" 200 512 "-" "{agent}"'


def proxy_doc(uri: str, host: str) -> dict[str, Any]:
    return {
        "@timestamp": "2026-12-06T03:00:00.000Z",
        "ecs": {"version": "8.11.0"},
        "observer": {"type": "proxy", "vendor": "Squid", "product": "squid"},
        "source": {"ip": "10.20.30.41"},
        "destination": {"ip": "203.0.113.80", "port": 80},
        "url": {"original": f"http://{host}{uri}", "domain": host, "path": uri.split("?")[0], "extension": "ps1"},
        "http": {"request": {"method": "GET"}, "response": {"status_code": 200}},
        "user_agent": {"original": "WindowsPowerShell/5.1"},
        "message": f"GET http://{host}{uri}",
    }


def dns_doc(name: str) -> dict[str, Any]:
    return {
        "@timestamp": "2026-12-06T03:00:00.000Z",
        "ecs": {"version": "8.11.0"},
        "event": {"category": ["network"], "type": ["protocol"], "dataset": "zeek.dns"},
        "source": {"ip": "10.20.30.41"},
        "destination": {"ip": "10.0.0.53", "port": 53},
        "dns": {
            "question": {"name": name, "type": "A"},
            "answers": [{"data": "203.0.113.80", "type": "A"}],
            "resolved_ip": ["203.0.113.80"],
        },
        "message": f"dns query {name}",
    }


def defender_evtx(threat: str, path: str) -> dict[str, Any]:
    system = {
        "Provider": {"#attributes": {"Name": "Microsoft-Windows-Windows Defender"}},
        "EventID": 1116,
        "Channel": "Microsoft-Windows-Windows Defender/Operational",
        "Computer": "ws-vanthu01",
        "TimeCreated": {"#attributes": {"SystemTime": "2026-12-06T03:00:00.000000Z"}},
    }
    data = {"Threat Name": threat, "Path": f"file:_{path}", "Severity Name": "Severe", "Action Name": "Quarantine"}
    return {"Event": {"System": system, "EventData": data}}


def malware_doc(signature: str, path: str) -> dict[str, Any]:
    return {
        "@timestamp": "2026-12-06T03:00:00.000Z",
        "ecs": {"version": "8.11.0"},
        "event": {"kind": "alert", "category": ["malware"], "type": ["info"]},
        "rule": {"name": signature},
        "file": {"path": path, "name": path.rsplit("/", 1)[-1]},
        "host": {"name": "web01"},
        "message": f"{signature} found in {path}",
    }


SSHD = "<38>1 2026-12-06T10:00:00.000000+07:00 web01 sshd 4242 - - {verb} password for root from {ip} port 52144 ssh2"

CASES = [
    Case(
        "firewall",
        rule(
            "firewall",
            "category: firewall",
            """
            selection:
                src_ip: 198.51.100.7
                dst_port: 3389
                action: accept
            condition: selection
            """,
        ),
        "syslog",
        FGT.format(src="198.51.100.7", port=3389, action="accept"),
        FGT.format(src="198.51.100.7", port=3389, action="deny"),
    ),
    Case(
        "webserver",
        rule(
            "webserver",
            "category: webserver",
            """
            selection:
                cs-method: GET
                cs-uri-stem: /dvc/tra-cuu
                cs-uri-query|contains: 'UNION+SELECT'
                c-useragent|contains: sqlmap
                sc-status: 200
                c-ip: 203.0.113.9
            condition: selection
            """,
        ),
        "nginx-access",
        NGINX.format(ip="203.0.113.9", query="ma=1'+UNION+SELECT+1--", agent="sqlmap/1.7"),
        NGINX.format(ip="203.0.113.9", query="ma=1", agent="sqlmap/1.7"),
    ),
    Case(
        "proxy",
        rule(
            "proxy",
            "category: proxy",
            """
            selection:
                c-uri|endswith: '.ps1'
                c-useragent|startswith: WindowsPowerShell
                cs-host: payload.example.net
                r-dns: payload.example.net
                cs-method: GET
                sc-status: 200
                c-uri-extension: ps1
            condition: selection
            """,
        ),
        "json",
        proxy_doc("/a.ps1", "payload.example.net"),
        proxy_doc("/a.ps1", "cdn.example.org"),
    ),
    Case(
        "dns",
        rule(
            "dns",
            "category: dns",
            """
            selection:
                query|endswith: '.duckdns.org'
                record_type: A
                answer: 203.0.113.80
            condition: selection
            """,
        ),
        "json",
        dns_doc("c2.duckdns.org"),
        dns_doc("www.gov.vn"),
    ),
    Case(
        "antivirus-windows",
        rule(
            "antivirus-windows",
            "category: antivirus",
            r"""
            selection:
                Signature|contains: Mimikatz
                Filename|contains: ':\Users\Public\'
            condition: selection
            """,
        ),
        "windows-evtx-json",
        defender_evtx("HackTool:Win32/Mimikatz", "C:\\Users\\Public\\m.exe"),
        defender_evtx("Trojan:Win32/Wacatac", "C:\\Users\\Public\\m.exe"),
    ),
    Case(
        "antivirus-ecs",
        rule(
            "antivirus-ecs",
            "category: antivirus",
            """
            selection:
                Signature|startswith: 'PHP.Webshell'
                Filename|contains: '/www/'
            condition: selection
            """,
        ),
        "json",
        malware_doc("PHP.Webshell.Generic", "/var/www/portal/up/x.php"),
        malware_doc("Eicar-Test-Signature", "/var/www/portal/up/x.php"),
    ),
    Case(
        "linux-auth",
        rule(
            "linux-auth",
            "product: linux\nservice: sshd",
            """
            selection:
                src_ip: 203.0.113.5
                username: root
            keywords:
                - 'Failed password'
            condition: selection and keywords
            """,
        ),
        "syslog",
        SSHD.format(verb="Failed", ip="203.0.113.5"),
        SSHD.format(verb="Accepted", ip="203.0.113.5"),
    ),
]


def make_event(case: Case, which: str) -> dict[str, Any]:
    record = case.hit if which == "hit" else case.miss
    raw = RawEnvelope(
        source_id="src-test",
        agency="so-tttt",
        collector="test",
        format=case.fmt,
        message=record if isinstance(record, str) else None,
        payload=record if isinstance(record, dict) else None,
        peer=Peer(ip="10.0.0.5", port=51514),
        id=f"generic-{case.name}-{which}",
        received_at=RECEIVED_AT,
    )
    event, dead = normalize(raw, ParserCache(), None)
    assert dead is None, (case.name, which, event.get("error"))
    return orjson.loads(orjson.dumps(event))
