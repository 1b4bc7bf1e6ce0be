"""The default `_bulk` documents of each shipper, parsed into ECS with the right time and message
(issue 12). The `_bulk` endpoint puts each document in the envelope's `payload`; the format is the
source's, or the shipper's hint (`winlogbeat`, the Beat's `agent.type`) for a `syslog` source
(collectors/http/app.py `format_hint`).

Layouts, from each shipper's documentation:
- rsyslog omelasticsearch, default template StdJSONFmt: message (`%msg%`, with the space that
  followed the tag), fromhost, facility, priority (severity text), timereported, timegenerated;
- syslog-ng elasticsearch-http(), default template
  `$(format-json --scope rfc5424 --exclude DATE --key ISODATE @timestamp=${ISODATE})`;
- Filebeat: ECS, `message` holds the line, a module names it in `event.dataset`;
- Winlogbeat: `winlog.*` as the Beat reads the event log;
- Fluent Bit es output: the record plus `@timestamp` (Time_Key); tail puts the line in `log`,
  the syslog-rfc3164/5424 parsers give pri, host, ident, pid, message;
- Vector elasticsearch sink (bulk mode): the event as is, `timestamp`, `message`, and for the
  syslog source appname, procid, hostname, facility, severity;
- NXLog om_elasticsearch after `parse_syslog(); to_json();`: Hostname, SourceName, ProcessID,
  SyslogFacility, SyslogSeverity, EventTime (local, no zone), Message.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from canhgac.core.event import get_path
from canhgac.pipeline.normalize.base import parsers
from canhgac.pipeline.normalizer import ParserCache, normalize
from normalize_testkit import envelope

from tests.unit.normalize.test_windows_ecs import WINLOGBEAT_INPUT

LINE = "Failed password for root from 203.0.113.5 port 52144 ssh2"
BSD_LINE = f"Dec  6 10:00:00 web01 sshd[1234]: {LINE}"
WHEN = "2026-12-06T03:00:00.000Z"  # 10:00 in Vietnam


def parse(fmt: str, doc: dict[str, Any]) -> dict[str, Any]:
    event, dead = normalize(envelope(fmt, payload=doc), ParserCache(), None)
    assert dead is None, event.get("error")
    return event


def assert_sshd_failure(event: dict[str, Any]) -> None:
    assert event["message"] == LINE
    assert event["event"]["outcome"] == "failure"
    assert event["user"]["name"] == "root"
    assert event["source"]["ip"] == "203.0.113.5" and event["source"]["port"] == 52144
    assert event["canhgac"]["logsource"] == {"product": "linux", "service": "sshd"}
    assert event["canhgac"]["dataset"] == "linux.auth"


# ---- rsyslog omelasticsearch --------------------------------------------------------------------------

RSYSLOG = {
    "message": f" {LINE}",
    "fromhost": "web01",
    "facility": "authpriv",
    "priority": "info",
    "timereported": "2026-12-06T10:00:00.123456+07:00",
    "timegenerated": "2026-12-06T10:00:00.200000+07:00",
}


@pytest.mark.parametrize("fmt", ["syslog", "json"])
def test_rsyslog_omelasticsearch_default_template(fmt: str) -> None:
    event = parse(fmt, RSYSLOG)
    assert event["@timestamp"] == "2026-12-06T03:00:00.123456Z"
    assert event["message"] == LINE
    assert event["host"]["name"] == "web01"
    if fmt == "syslog":
        assert event["log"]["syslog"]["facility"] == {"code": 10, "name": "authpriv"}
        assert event["log"]["syslog"]["severity"]["name"] == "Informational"


# ---- syslog-ng elasticsearch-http() -------------------------------------------------------------------

SYSLOG_NG = {
    "PROGRAM": "sshd",
    "PRIORITY": "info",
    "PID": "1234",
    "MESSAGE": LINE,
    "ISODATE": "2026-12-06T10:00:00+07:00",
    "HOST": "web01",
    "FACILITY": "authpriv",
    "@timestamp": "2026-12-06T10:00:00+07:00",
}


def test_syslog_ng_elasticsearch_http_default_template() -> None:
    event = parse("syslog", SYSLOG_NG)
    assert event["@timestamp"] == WHEN
    assert_sshd_failure(event)
    assert event["process"] == {"name": "sshd", "pid": 1234}
    assert event["host"]["name"] == "web01"


def test_syslog_ng_document_in_a_json_source_keeps_time_and_message() -> None:
    event = parse("json", SYSLOG_NG)
    assert event["@timestamp"] == WHEN
    assert event["message"] == LINE


# ---- Filebeat -----------------------------------------------------------------------------------------


def filebeat(message: str, dataset: str | None, path: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@timestamp": "2026-12-06T03:00:01.500Z",
        "agent": {"type": "filebeat", "version": "8.15.3", "name": "web01", "id": "a1b2", "ephemeral_id": "c3d4"},
        "ecs": {"version": "8.0.0"},
        "host": {"name": "web01", "hostname": "web01", "os": {"family": "debian"}},
        "input": {"type": "log"},
        "log": {"file": {"path": path}, "offset": 1234},
        "message": message,
    }
    if dataset is not None:
        module, fileset = dataset.split(".")
        doc["event"] = {"module": module, "dataset": dataset, "timezone": "+07:00"}
        doc["fileset"] = {"name": fileset}
        doc["service"] = {"type": module}
    return doc


@pytest.mark.parametrize("fmt", ["syslog", "filebeat", "json"])
def test_filebeat_system_auth_module_line_is_parsed(fmt: str) -> None:
    event = parse(fmt, filebeat(BSD_LINE, "system.auth", "/var/log/auth.log"))
    assert event["@timestamp"] == WHEN, "the line's time, not Filebeat's read time"
    assert_sshd_failure(event)
    assert event["log"]["file"]["path"] == "/var/log/auth.log"
    assert event["agent"]["type"] == "filebeat"
    assert event["host"]["name"] == "web01"


def test_filebeat_plain_log_line_in_a_syslog_source_is_parsed() -> None:
    event = parse("syslog", filebeat(BSD_LINE, None, "/var/log/auth.log"))
    assert event["@timestamp"] == WHEN
    assert_sshd_failure(event)


def test_filebeat_nginx_module_line_is_parsed() -> None:
    line = '203.0.113.9 - - [06/Dec/2026:10:00:00 +0700] "GET /dvc/../../etc/passwd HTTP/1.1" 404 153 "-" "sqlmap/1.7"'
    event = parse("json", filebeat(line, "nginx.access", "/var/log/nginx/access.log"))
    assert event["@timestamp"] == WHEN
    assert event["canhgac"]["logsource"]["category"] == "webserver"
    assert event["url"]["original"] == "/dvc/../../etc/passwd"
    assert event["http"]["response"]["status_code"] == 404
    assert event["source"]["ip"] == "203.0.113.9"
    assert event["user_agent"]["original"] == "sqlmap/1.7"
    assert event["log"]["file"]["path"] == "/var/log/nginx/access.log"


def test_filebeat_app_json_without_module_stays_generic() -> None:
    event = parse("json", filebeat("user logged in", None, "/srv/app/app.log"))
    assert event["message"] == "user logged in"
    assert event["@timestamp"] == "2026-12-06T03:00:01.500Z"


# ---- Winlogbeat ---------------------------------------------------------------------------------------


def test_winlogbeat_document() -> None:
    doc = orjson.loads(WINLOGBEAT_INPUT.read_bytes().splitlines()[0])
    event = parse("winlogbeat", doc)
    assert event["@timestamp"] == doc["@timestamp"]
    assert event["message"] == "An account was successfully logged on."
    assert event["user"]["name"] == "nguyen.lan"
    assert event["event"]["action"] == "logged-in"
    assert event["winlog"]["event_data"]["TargetUserName"] == "nguyen.lan"


# ---- Fluent Bit ---------------------------------------------------------------------------------------


def test_fluent_bit_tail_record() -> None:
    event = parse("syslog", {"@timestamp": "2026-12-06T03:00:01.123Z", "log": BSD_LINE})
    assert event["@timestamp"] == WHEN
    assert_sshd_failure(event)


def test_fluent_bit_syslog_rfc3164_parser_record() -> None:
    doc = {"@timestamp": "2026-12-06T03:00:00.000Z", "pri": "38", "host": "web01", "ident": "sshd", "pid": "1234"}
    event = parse("syslog", {**doc, "message": LINE})
    assert event["@timestamp"] == WHEN
    assert_sshd_failure(event)
    assert event["log"]["syslog"]["priority"] == 38
    assert event["process"] == {"name": "sshd", "pid": 1234}


# ---- Vector -------------------------------------------------------------------------------------------


def test_vector_syslog_source_event() -> None:
    doc = {
        "appname": "sshd",
        "facility": "auth",
        "host": "10.0.0.5",
        "hostname": "web01",
        "message": LINE,
        "procid": 1234,
        "severity": "info",
        "source_ip": "10.0.0.5",
        "source_type": "syslog",
        "timestamp": "2026-12-06T03:00:00.123456789Z",
        "version": 1,
    }
    event = parse("syslog", doc)
    assert event["@timestamp"] == "2026-12-06T03:00:00.123456Z"
    assert_sshd_failure(event)
    assert event["host"]["name"] == "web01"
    assert event["log"]["syslog"]["facility"]["name"] == "auth"


def test_vector_file_source_event() -> None:
    doc = {"file": "/var/log/auth.log", "host": "web01", "message": BSD_LINE, "source_type": "file"}
    event = parse("syslog", {**doc, "timestamp": "2026-12-06T03:00:01.5Z"})
    assert event["@timestamp"] == WHEN
    assert_sshd_failure(event)


@pytest.mark.parametrize("fmt", ["json"])
def test_vector_event_in_a_json_source_keeps_time(fmt: str) -> None:
    event = parse(
        fmt, {"host": "web01", "message": "hello", "source_type": "file", "timestamp": "2026-12-06T03:00:01Z"}
    )
    assert event["@timestamp"] == "2026-12-06T03:00:01.000Z"
    assert event["message"] == "hello"


# ---- NXLog --------------------------------------------------------------------------------------------

NXLOG = {
    "EventReceivedTime": "2026-12-06 10:00:01",
    "SourceModuleName": "auth",
    "SourceModuleType": "im_file",
    "SyslogFacilityValue": 10,
    "SyslogFacility": "AUTHPRIV",
    "SyslogSeverityValue": 6,
    "SyslogSeverity": "INFO",
    "SeverityValue": 2,
    "Severity": "INFO",
    "Hostname": "web01",
    "EventTime": "2026-12-06 10:00:00",
    "SourceName": "sshd",
    "ProcessID": 1234,
    "Message": LINE,
}


@pytest.mark.parametrize("fmt", ["syslog", "json"])
def test_nxlog_parse_syslog_document(fmt: str) -> None:
    event = parse(fmt, NXLOG)
    assert event["@timestamp"] == WHEN
    if fmt == "syslog":
        assert_sshd_failure(event)
        assert event["process"] == {"name": "sshd", "pid": 1234}
    else:
        assert event["message"] == LINE


def test_nxlog_windows_document_in_a_syslog_source() -> None:
    doc = {
        "EventTime": "2026-12-06 10:00:00",
        "Hostname": "ws-vanthu01",
        "EventID": 4688,
        "SourceName": "Microsoft-Windows-Security-Auditing",
        "Channel": "Security",
        "NewProcessName": "C:\\Windows\\System32\\certutil.exe",
        "Message": "A new process has been created.",
    }
    event = parse("syslog", doc)
    assert event["@timestamp"] == WHEN, "NXLog's local EventTime, read in the source's zone"
    assert event["message"] == "A new process has been created."
    assert event["process"]["name"] == "certutil.exe"
    assert event["winlog"]["event_id"] == 4688


def test_fluent_bit_kubernetes_metadata_is_kept() -> None:
    doc = {"@timestamp": "2026-12-06T03:00:01.123Z", "log": BSD_LINE, "stream": "stdout", "kubernetes": {"pod": "p"}}
    event = parse("json", doc)
    assert_sshd_failure(event)
    assert event["json"] == {"stream": "stdout", "kubernetes": {"pod": "p"}}


def test_every_shipper_dataset_names_a_parser() -> None:
    from canhgac.pipeline.normalize.shipped import MODULE_DATASETS

    for dataset, fmt in MODULE_DATASETS.items():
        assert fmt in parsers, (dataset, fmt)


def test_a_document_without_any_text_is_generic_json() -> None:
    event = parse("syslog", {"@timestamp": "2026-12-06T03:00:00Z", "ecs": {"version": "8"}, "metricset": {"x": 1}})
    assert get_path(event, "json.metricset.x") == 1
