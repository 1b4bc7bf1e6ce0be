"""Lines as relays write them (issue 12): rsyslog's RFC 5424 template keeps the space that followed
the tag, and a relay reads the first word of a device's own format (`CEF:`, `LEEF:`, `%ASA-…:`,
FortiGate's `date=…`) as the syslog tag.

The line shapes are those the documented templates produce:
- `RSYSLOG_SyslogProtocol23Format` (docs/sources/rsyslog.md) is
  `<%PRI%>1 %TIMESTAMP:::date-rfc3339% %HOSTNAME% %APP-NAME% %PROCID% %MSGID% %STRUCTURED-DATA% %msg%`
  and `%msg%` starts with the space that followed the tag: `sshd[1234]: Failed …` gives
  `… sshd 1234 - -  Failed …` (two spaces);
- `RSYSLOG_TraditionalForwardFormat` is `<%PRI%>%TIMESTAMP% %HOSTNAME% %syslogtag%%msg:::sp-if-no-1st-sp%%msg%`:
  a tag `CEF:` and a message `0|…` give `CEF: 0|…`;
- rsyslog makes APP-NAME from the tag without its colon: `CEF:0|…` gives APP-NAME `CEF`, message `0|…`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from canhgac.core.config import SourceConfig
from canhgac.core.envelope import Peer, RawEnvelope
from canhgac.core.event import get_path
from canhgac.pipeline.normalize.base import parsers
from canhgac.pipeline.normalizer import ParserCache, normalize
from canhgac.rules.correlation import CorrelationAlert, CorrelationEngine
from canhgac.rules.engine import Engine
from canhgac.rules.library import RuleLibrary
from canhgac.rules.ruleset import BUNDLED_PACKS
from normalize_testkit import RECEIVED_AT, envelope

ATTACKER = "203.0.113.5"


def rsyslog_5424(app: str, procid: str, msg: str, host: str = "web01", pri: int = 38, second: int = 0) -> str:
    """What RSYSLOG_SyslogProtocol23Format writes for a local message `app[procid]:msg`."""
    return f"<{pri}>1 2026-12-06T10:00:{second:02d}.123456+07:00 {host} {app} {procid} - - {msg}"


def raw(fmt: str, line: str, n: int = 0) -> RawEnvelope:
    return RawEnvelope(
        source_id="src-web01",
        agency="so-tttt",
        collector="syslog-tcp",
        format=fmt,
        message=line,
        peer=Peer(ip="10.0.0.5", port=51514),
        id=f"01JRELAYTEST{n:013d}",
        received_at=RECEIVED_AT,
    )


def parse(fmt: str, line: str) -> dict[str, Any]:
    return parsers.get(fmt)().parse(envelope(fmt, line))


# ---- 1. rsyslog's RFC 5424 template: the leading space ------------------------------------------------


def test_rsyslog_5424_message_has_no_leading_space() -> None:
    line = rsyslog_5424("sshd", "1234", f" Failed password for root from {ATTACKER} port 52144 ssh2")
    assert "sshd 1234 - -  Failed" in line  # the exact shape: two spaces
    event = parse("syslog", line)
    assert event["message"] == f"Failed password for root from {ATTACKER} port 52144 ssh2"
    assert event["event"]["outcome"] == "failure"
    assert event["user"]["name"] == "root"
    assert (event["source"]["ip"], event["source"]["port"]) == (ATTACKER, 52144)


def test_rsyslog_5424_pam_line_is_parsed() -> None:
    line = rsyslog_5424(
        "sshd",
        "1234",
        " pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
        f"rhost={ATTACKER}  user=root",
        pri=85,
    )
    event = parse("syslog", line)
    assert event["event"]["outcome"] == "failure"
    assert event["user"]["name"] == "root"
    assert event["source"]["ip"] == ATTACKER


class Detector:
    """The detector's matching with the bundled packs: single-event rules, then correlations."""

    def __init__(self) -> None:
        loaded = RuleLibrary([BUNDLED_PACKS]).load_result()
        self.engine = Engine(loaded.rules)
        self.correlation = CorrelationEngine.from_sigma(loaded.correlation_rules)

    def run(self, events: list[dict[str, Any]]) -> list[CorrelationAlert]:
        alerts: list[CorrelationAlert] = []
        for event in events:
            matched = self.engine.match(event)
            ts = datetime.fromisoformat(event["@timestamp"].replace("Z", "+00:00"))
            alerts.extend(self.correlation.observe(event, matched, ts))
        alerts.extend(self.correlation.advance(datetime(2027, 1, 1, tzinfo=UTC)))
        return alerts


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(lambda i, text: rsyslog_5424("sshd", str(4000 + i), f" {text}", second=i), id="rsyslog-5424"),
        pytest.param(
            lambda i, text: f"<38>1 2026-12-06T10:00:{i:02d}.123456+07:00 web01 sshd {4000 + i} - - {text}",
            id="syslog-ng-5424",
        ),
    ],
)
def test_five_failures_then_success_alert_through_normalizer_and_bundled_rules(shape: Any) -> None:
    texts = [f"Failed password for root from {ATTACKER} port {52000 + i} ssh2" for i in range(5)]
    texts.append(f"Accepted password for root from {ATTACKER} port 52999 ssh2")
    parsers_ = ParserCache()
    source = SourceConfig(id="src-web01", agency="so-tttt", format="syslog")
    events = []
    for i, text in enumerate(texts):
        event, dead = normalize(raw("syslog", shape(i, text), i), parsers_, source)
        assert dead is None
        events.append(event)
    assert [get_path(e, "event.outcome") for e in events] == ["failure"] * 5 + ["success"]
    titles = {a.title for a in Detector().run(events)}
    assert "SSH brute force followed by a successful login to the same account" in titles
    single = [m.title for e in events[:5] for m in Detector().engine.match(e)]
    assert single.count("SSH password authentication failed") == 5


# ---- 2. device formats behind a syslog relay -----------------------------------------------------------

CEF_BODY = (
    "0|Fortinet|FortiGate-100F|7.2.5|0000000013|forward traffic accept|5|"
    "src=198.51.100.7 spt=51000 dst=10.10.1.20 dpt=443 proto=6 act=accept"
)
LEEF_BODY = "2.0|Palo Alto Networks|PAN-OS|10.1|TRAFFIC|^|src=198.51.100.7^dst=10.10.1.20^srcPort=51000^dstPort=443"
ASA_TAG = "%ASA-6-302013"
ASA_BODY = "Built inbound TCP connection 3 for outside:198.51.100.7/51000 (198.51.100.7/51000) to dmz:10.10.1.20/443 (10.10.1.20/443)"
FGT_FIRST = "date=2026-12-06"
FGT_REST = (
    'time=10:00:00 devname="FGT-SOTTTT" devid="FG100FTK19000001" logid="0000000013" type="traffic" '
    'subtype="forward" level="notice" srcip=198.51.100.7 srcport=51000 dstip=10.10.1.20 dstport=443 '
    'action="accept" tz="+0700"'
)


def relayed_lines() -> list[Any]:
    ts5424 = "2026-12-06T10:00:00+07:00"
    return [
        # rsyslog, RFC 5424 template: APP-NAME is the tag without its colon
        pytest.param(f"<134>1 {ts5424} fgt01 CEF - - - {CEF_BODY}", "cef", id="cef-rsyslog-5424"),
        # rsyslog, traditional forward format: tag "CEF:", then sp-if-no-1st-sp
        pytest.param(f"<134>Dec  6 10:00:00 fgt01 CEF: {CEF_BODY}", "cef", id="cef-rsyslog-3164"),
        pytest.param(f"<134>Dec  6 10:00:00 relay CEF:{CEF_BODY}", "cef", id="cef-3164-verbatim"),
        pytest.param(f"<134>1 {ts5424} qradar LEEF - - - {LEEF_BODY}", "leef", id="leef-rsyslog-5424"),
        pytest.param(f"<134>Dec  6 10:00:00 qradar LEEF: {LEEF_BODY}", "leef", id="leef-rsyslog-3164"),
        pytest.param(f"<166>1 {ts5424} 10.0.0.1 {ASA_TAG} - - -  {ASA_BODY}", "cisco.asa", id="asa-rsyslog-5424"),
        pytest.param(f"<166>Dec  6 10:00:00 10.0.0.1 {ASA_TAG}: {ASA_BODY}", "cisco.asa", id="asa-rsyslog-3164"),
        pytest.param(
            f"<189>1 {ts5424} 10.0.0.2 {FGT_FIRST} - - -  {FGT_REST}", "fortigate", id="fortigate-rsyslog-5424"
        ),
        pytest.param(f"<189>Dec  6 10:00:00 10.0.0.2 {FGT_FIRST} {FGT_REST}", "fortigate", id="fortigate-rsyslog-3164"),
    ]


@pytest.mark.parametrize(("line", "dataset"), relayed_lines())
def test_device_format_behind_a_relay_is_recognised(line: str, dataset: str) -> None:
    event = parse("syslog", line)
    assert event["canhgac"]["dataset"] == dataset, event
    assert event["source"]["ip"] == "198.51.100.7"
    assert event["destination"]["ip"] == "10.10.1.20"
    assert "process" not in event, "the device's first word is not a program"


@pytest.mark.parametrize(("line", "dataset"), relayed_lines())
def test_format_specific_parser_reads_the_relayed_line(line: str, dataset: str) -> None:
    fmt = {"cef": "cef", "leef": "leef", "cisco.asa": "cisco-asa", "fortigate": "fortigate"}[dataset]
    event = parse(fmt, line)
    assert event["canhgac"]["dataset"] == dataset
    assert event["source"]["ip"] == "198.51.100.7"


def test_relayed_fortigate_keeps_the_device_date() -> None:
    event = parse("syslog", f"<189>1 2026-12-06T11:30:00+07:00 10.0.0.2 {FGT_FIRST} - - -  {FGT_REST}")
    assert event["@timestamp"] == "2026-12-06T03:00:00.000Z"
    assert event["fortinet"]["firewall"]["date"] == "2026-12-06"


def test_relayed_asa_keeps_its_message_id() -> None:
    event = parse("syslog", f"<166>1 2026-12-06T10:00:00+07:00 10.0.0.1 {ASA_TAG} - - -  {ASA_BODY}")
    assert event["event"]["code"] == "302013"
    assert event["message"] == ASA_BODY


def test_a_program_named_like_nothing_special_keeps_its_tag() -> None:
    event = parse("syslog", "<14>1 2026-12-06T10:00:00+07:00 web01 myapp 42 - -  hello date=today")
    assert event["process"] == {"name": "myapp", "pid": 42}
    assert event["message"] == "hello date=today"
