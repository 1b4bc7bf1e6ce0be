"""Behaviour the golden files do not pin down on their own: state, routing, field contracts."""

from __future__ import annotations

import pytest
from canhgac.core.envelope import RawEnvelope
from canhgac.core.errors import ConfigError, ParseError
from canhgac.pipeline.normalize.base import parsers
from canhgac.pipeline.normalize.syslog import SyslogParser
from normalize_testkit import envelope


def parse(fmt: str, message: str | None = None, payload: dict | None = None) -> dict:
    return parsers.get(fmt)().parse(envelope(fmt, message, payload))


# ---- Sigma webserver fields -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["nginx-access", "apache-access"])
def test_webserver_fields_match_the_rule_engine_mapping(fmt: str) -> None:
    line = (
        '45.14.2.1 - bob [26/Nov/2026:08:01:02 +0700] "GET /a/b.php?x=1&y=../../etc HTTP/1.1" 404 7 "http://r/" "UA x"'
    )
    event = parse(fmt, line)
    assert event["url"] == {
        "original": "/a/b.php?x=1&y=../../etc",
        "path": "/a/b.php",
        "query": "x=1&y=../../etc",
    }
    assert event["source"]["ip"] == "45.14.2.1"
    assert event["http"]["request"] == {"method": "GET", "referrer": "http://r/"}
    assert event["http"]["response"] == {"status_code": 404, "body": {"bytes": 7}}
    assert event["user_agent"] == {"original": "UA x"}
    assert event["user"] == {"name": "bob"}
    assert event["canhgac"]["logsource"]["category"] == "webserver"


def test_query_is_absent_without_question_mark_and_empty_after_it() -> None:
    assert (
        "query" not in parse("nginx-access", '1.2.3.4 - - [26/Nov/2026:08:01:02 +0700] "GET /a HTTP/1.1" 200 1')["url"]
    )
    assert (
        "query" not in parse("nginx-access", '1.2.3.4 - - [26/Nov/2026:08:01:02 +0700] "GET /a? HTTP/1.1" 200 1')["url"]
    )


# ---- IIS #Fields state ------------------------------------------------------------------------


def _iis(source_id: str, line: str) -> RawEnvelope:
    raw = envelope("iis-w3c", line)
    raw.source_id = source_id
    return raw


def test_iis_fields_are_kept_per_source() -> None:
    parser = parsers.get("iis-w3c")()
    parser.parse(_iis("a", "#Fields: date time c-ip cs-method cs-uri-stem cs-uri-query sc-status"))
    parser.parse(_iis("b", "#Fields: date time cs-method cs-uri-stem c-ip sc-status"))
    ev_a = parser.parse(_iis("a", "2026-11-26 01:00:00 10.0.0.1 GET /x q=1 200"))
    ev_b = parser.parse(_iis("b", "2026-11-26 01:00:00 POST /y 10.0.0.2 500"))
    assert (ev_a["source"]["ip"], ev_a["url"]["query"], ev_a["http"]["response"]["status_code"]) == (
        "10.0.0.1",
        "q=1",
        200,
    )
    assert (ev_b["source"]["ip"], ev_b["http"]["request"]["method"]) == ("10.0.0.2", "POST")


def test_iis_json_from_nxlog() -> None:
    event = parse("iis-w3c", payload={"date": "2026-11-26", "time": "01:00:00", "c-ip": "10.0.0.1",
                                      "cs-method": "GET", "cs-uri-stem": "/x", "cs-uri-query": "a=1",
                                      "sc-status": "200"})  # fmt: skip
    assert event["url"]["query"] == "a=1" and event["@timestamp"] == "2026-11-26T01:00:00.000Z"
    with pytest.raises(ParseError):
        parse("iis-w3c", payload={"unrelated": 1})


# ---- syslog routing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "dataset"),
    [
        ("<134>Nov 26 08:05:00 h CEF:0|V|P|1|sig|name|5|src=10.0.0.1", "cef"),
        ("<134>Nov 26 08:05:00 h LEEF:1.0|V|P|1|E|src=10.0.0.1", "leef"),
        (
            '<189>date=2026-11-26 time=08:02:00 devname="FG" devid="FG1" logid="0000000013" type="traffic"',
            "fortigate",
        ),
        ("<166>Nov 26 2026 08:03:20: %ASA-6-302013: Built", "cisco.asa"),
        (
            "<134>Nov 26 08:04:00 fw filterlog[1]: 5,,,1000000103,igb1,match,block,in,4,0x0,,64,1,0,DF,6,tcp,60,"
            "1.2.3.4,5.6.7.8,1,2,0,S,1,,1,,",
            "pfsense",
        ),
        (
            '<190>Nov 26 08:01:00 w nginx: 1.2.3.4 - - [26/Nov/2026:08:01:00 +0700] "GET / HTTP/1.1" 200 1',
            "nginx.access",
        ),
        ('<14>Nov 26 08:07:00 h audispd: type=EXECVE msg=audit(1795655220.001:1): argc=1 a0="id"', "auditd"),
        ("<38>Nov 26 07:59:01 h sshd[1]: Failed password for root from 1.2.3.4 port 2 ssh2", "linux.auth"),
        ("<13>Nov 26 07:59:01 h myapp[1]: plain", "syslog"),
    ],
)
def test_syslog_detects_body_formats(line: str, dataset: str) -> None:
    assert parse("syslog", line)["canhgac"]["dataset"] == dataset


def test_syslog_keeps_the_event_when_a_detected_body_is_broken() -> None:
    event = parse("syslog", "<134>Nov 26 08:05:00 h CEF:0|only|three")
    assert event["canhgac"]["dataset"] == "syslog"
    assert event["error"]["message"].startswith("cef:")


def test_standalone_parser_refuses_other_formats() -> None:
    with pytest.raises(ParseError, match="not a cef record"):
        parse("cef", "<13>Nov 26 07:59:01 h myapp[1]: plain")


def test_unknown_time_zone_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        SyslogParser(default_tz="Mars/Olympus")


# ---- JSON and Một cửa -------------------------------------------------------------------------


def test_json_payload_and_text_give_the_same_event() -> None:
    obj = {"time": "2026-11-26T08:00:03+07:00", "msg": "hello", "n": 1}
    assert parse("json", payload=obj) == parse("json", '{"time":"2026-11-26T08:00:03+07:00","msg":"hello","n":1}')


def test_json_cannot_spoof_our_routing() -> None:
    event = parse("json", payload={"@timestamp": "2026-11-26T01:00:00Z", "ecs": {"version": "8"},
                                   "canhgac": {"dataset": "x", "logsource": {"product": "windows"}}})  # fmt: skip
    assert event["canhgac"] == {"dataset": "json", "logsource": {}}
    assert event["json"]["canhgac"]["logsource"] == {"product": "windows"}


def test_motcua_maps_dossier_status_change() -> None:
    event = parse("motcua-audit", payload={"ts": "2026-11-26T08:17:00+07:00", "action": "dossier.status_change",
                                           "user": "lethic", "dossier_id": "H56-1", "status_from": "DANG_XU_LY",
                                           "status_to": "DA_CO_KET_QUA", "outcome": "success"})  # fmt: skip
    assert event["event"]["category"] == ["database"] and event["event"]["type"] == ["change"]
    assert event["motcua"]["audit"]["status_to"] == "DA_CO_KET_QUA"
    assert event["canhgac"]["logsource"] == {"product": "motcua", "service": "audit"}
