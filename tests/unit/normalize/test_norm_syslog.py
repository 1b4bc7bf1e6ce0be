from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from canhgac.pipeline.normalize.syslog import SyslogParser, parse_syslog
from normalize_testkit import envelope

REF = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
VN = ZoneInfo("Asia/Ho_Chi_Minh")


def parse(line: str):
    return parse_syslog(line, reference=REF)


# ---- RFC 5424 -------------------------------------------------------------------------------


def test_5424_rfc_example_1_bom_and_nil_procid() -> None:
    m = parse("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \ufeff'su root' failed")
    assert (m.rfc, m.facility, m.severity, m.priority, m.version) == ("5424", 4, 2, 34, 1)
    assert m.timestamp == datetime(2003, 10, 11, 22, 14, 15, 3000, tzinfo=UTC)
    assert (m.hostname, m.app_name, m.procid, m.msgid) == ("mymachine.example.com", "su", None, "ID47")
    assert m.structured_data == {}
    assert m.message == "'su root' failed"


def test_5424_offset_and_microseconds() -> None:
    m = parse("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time")
    assert m.timestamp == datetime(2003, 8, 24, 5, 14, 15, 3, tzinfo=timezone(timedelta(hours=-7)))
    assert (m.procid, m.msgid, m.message) == ("8710", None, "%% It's time")


def test_5424_nanoseconds_are_truncated() -> None:
    m = parse("<14>1 2026-11-26T08:00:00.123456789+07:00 h app 1 - - x")
    assert m.timestamp is not None and m.timestamp.microsecond == 123456


def test_5424_structured_data_with_escapes_and_several_elements() -> None:
    line = (
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
        '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]'
        r'[examplePriority@32473 class="high" esc="a\"b\]c\\d\x"] '
        "\ufeffAn application event log entry..."
    )
    m = parse(line)
    assert m.structured_data == {
        "exampleSDID@32473": {"iut": "3", "eventSource": "Application", "eventID": "1011"},
        "examplePriority@32473": {"class": "high", "esc": 'a"b]c\\d\\x'},
    }
    assert m.message == "An application event log entry..."


def test_5424_structured_data_only_no_message() -> None:
    m = parse('<165>1 2003-10-11T22:14:15.003Z h app - - [id@1 a="1"]')
    assert m.structured_data == {"id@1": {"a": "1"}}
    assert m.message == ""


def test_5424_all_nil() -> None:
    m = parse("<14>1 - - - - - -")
    assert m.rfc == "5424"
    assert (m.timestamp, m.hostname, m.app_name, m.procid, m.msgid) == (None, None, None, None, None)
    assert m.message == ""


def test_5424_sd_value_with_brackets_and_spaces() -> None:
    m = parse('<14>1 2026-11-26T08:00:00Z h app - - [meta x="a ] b [c" y=""] msg')
    assert m.structured_data == {"meta": {"x": "a ] b [c", "y": ""}}
    assert m.message == "msg"


def test_5424_malformed_sd_falls_back_to_bsd_reading() -> None:
    m = parse('<14>1 2026-11-26T08:00:00Z h app - - [unterminated a="1" rest')
    assert m.rfc == "3164"
    assert m.priority == 14
    assert "unterminated" in m.message


def test_5424_pfsense_filterlog() -> None:
    m = parse("<134>1 2026-11-26T07:59:59.512345+07:00 pfsense.local filterlog 6573 - - 4,,,1000000103,igb1")
    assert (m.hostname, m.app_name, m.procid) == ("pfsense.local", "filterlog", "6573")
    assert m.message.startswith("4,,,1000000103")


# ---- RFC 3164 -------------------------------------------------------------------------------


def test_3164_rfc_example() -> None:
    m = parse("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8")
    assert (m.rfc, m.version, m.facility, m.severity) == ("3164", None, 4, 2)
    assert m.timestamp == datetime(2026, 10, 11, 22, 14, 15, tzinfo=VN)
    assert (m.hostname, m.app_name, m.procid) == ("mymachine", "su", None)
    assert m.message == "'su root' failed for lonvick on /dev/pts/8"


def test_3164_single_digit_day_and_no_tag() -> None:
    m = parse("<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!")
    assert m.timestamp == datetime(2026, 2, 5, 17, 32, 18, tzinfo=VN)
    assert (m.hostname, m.app_name, m.message) == ("10.0.0.99", None, "Use the BFG!")


@pytest.mark.parametrize(
    ("line", "host", "app", "pid", "msg"),
    [
        (
            "<38>Nov 26 07:59:01 web01 sshd[2231]: Accepted password for root",
            "web01",
            "sshd",
            "2231",
            "Accepted password for root",
        ),
        (
            "<86>Nov 26 07:59:01 web01 CRON[911]: pam_unix(cron:session): session opened",
            "web01",
            "CRON",
            "911",
            "pam_unix(cron:session): session opened",
        ),
        (
            "<38>Nov 26 07:59:01 sshd[2231]: Accepted password for root",
            None,
            "sshd",
            "2231",
            "Accepted password for root",
        ),
        (
            "<30>Nov 26 07:59:01 db-01.sotttt.gov.vn systemd[1]: Started Session 5.",
            "db-01.sotttt.gov.vn",
            "systemd",
            "1",
            "Started Session 5.",
        ),
        (
            "<22>Nov 26 07:59:01 mail postfix/smtpd[4242]: connect from x",
            "mail",
            "postfix/smtpd",
            "4242",
            "connect from x",
        ),
        (
            "<6>Nov 26 07:59:01 host kernel: [12345.678] usb 1-1: new device",
            "host",
            "kernel",
            None,
            "[12345.678] usb 1-1: new device",
        ),
        (
            "<85>Nov 26 07:59:01 host sudo:   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root",
            "host",
            "sudo",
            None,
            "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root",
        ),
        ("<14>Nov 26 07:59:01 fe80::1 app[7]: v6 host", "fe80::1", "app", "7", "v6 host"),
        ("<14>Nov 26 07:59:01 host app[]: empty pid", "host", "app", None, "empty pid"),
        ("<14>Nov 26 07:59:01 host app:", "host", "app", None, ""),
    ],
)
def test_3164_tag_forms(line: str, host: str | None, app: str, pid: str | None, msg: str) -> None:
    m = parse(line)
    assert (m.hostname, m.app_name, m.procid, m.message) == (host, app, pid, msg)


def test_3164_with_year_and_milliseconds_cisco() -> None:
    m = parse("<166>Nov 26 2026 07:00:00.250: %ASA-6-302013: Built inbound TCP connection 1")
    assert m.timestamp == datetime(2026, 11, 26, 7, 0, 0, 250000, tzinfo=VN)
    assert (m.hostname, m.app_name) == (None, None)
    assert m.message == "%ASA-6-302013: Built inbound TCP connection 1"


def test_3164_cisco_asa_hostname_colon() -> None:
    m = parse("<166>Nov 26 2026 07:00:00 asa01 : %ASA-6-302013: Built")
    assert (m.hostname, m.message) == ("asa01", "%ASA-6-302013: Built")


def test_3164_cisco_ios_utc_and_unsynced_star() -> None:
    m = parse("<189>*Mar  1 18:46:11.123 UTC: %SYS-5-CONFIG_I: Configured from console")
    assert m.timestamp == datetime(2026, 3, 1, 18, 46, 11, 123000, tzinfo=UTC)
    assert m.message == "%SYS-5-CONFIG_I: Configured from console"


def test_3164_no_timestamp_fortigate() -> None:
    m = parse('<189>date=2026-11-26 time=07:00:00 devname="FGT60F" type="traffic"')
    assert (m.rfc, m.timestamp, m.hostname, m.app_name) == ("3164", None, None, None)
    assert m.message.startswith("date=2026-11-26")


def test_3164_iso_timestamp_without_version() -> None:
    m = parse("<13>2026-11-26T07:00:00.123456+07:00 web01 nginx: 1.2.3.4 - -")
    assert m.timestamp == datetime(2026, 11, 26, 0, 0, 0, 123456, tzinfo=UTC)
    assert (m.hostname, m.app_name, m.message) == ("web01", "nginx", "1.2.3.4 - -")


def test_3164_impossible_date_keeps_line() -> None:
    m = parse("<13>Feb 31 07:00:00 host app: x")
    assert m.timestamp is None
    assert (m.hostname, m.app_name, m.message) == ("host", "app", "x")


def test_year_inference_around_new_year() -> None:
    jan1 = datetime(2027, 1, 1, 0, 0, 5, tzinfo=UTC)
    m = parse_syslog("<13>Dec 31 23:59:59 host app: x", reference=jan1)
    assert m.timestamp is not None and m.timestamp.year == 2026
    dec31 = datetime(2026, 12, 31, 16, 59, tzinfo=UTC)  # 23:59 in Vietnam
    m = parse_syslog("<13>Jan  1 00:00:30 host app: x", reference=dec31)
    assert m.timestamp is not None and m.timestamp.year == 2027
    m = parse_syslog("<13>Feb  5 00:00:30 host app: x", reference=REF)  # not next February
    assert m.timestamp is not None and m.timestamp.year == 2026


def test_default_tz_argument() -> None:
    m = parse_syslog("<13>Nov 26 07:00:00 host app: x", default_tz=UTC, reference=REF)
    assert m.timestamp == datetime(2026, 11, 26, 7, 0, tzinfo=UTC)


# ---- not syslog -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "hello world",
        "<999>too big",
        "<013>leading zero",
        "<>empty",
        "<abc>x",
        "<13",
        "",
        "<",
        "12345",
        "Nov 26 07:00:00 host app: no pri",
    ],
)
def test_not_syslog_is_kept_whole(line: str) -> None:
    m = parse(line)
    assert m.rfc == "none"
    assert m.message == line
    assert m.priority is None


def test_missing_pri_allowed_for_log_files() -> None:
    m = parse_syslog("Nov 26 07:00:00 host sshd[1]: hi", reference=REF, allow_missing_pri=True)
    assert (m.rfc, m.priority, m.hostname, m.app_name, m.message) == ("3164", None, "host", "sshd", "hi")


def test_trailing_newline_and_nul_stripped() -> None:
    assert parse("<13>Nov 26 07:00:00 host app: x\r\n").message == "x"
    assert parse("<13>Nov 26 07:00:00 host app: x\x00").message == "x"


# ---- the registered parser --------------------------------------------------------------------


def test_parser_builds_ecs_event() -> None:
    event = SyslogParser().parse(envelope("syslog", "<86>Nov 26 07:59:01 web01 myapp[2231]: hello there"))
    assert event["@timestamp"] == "2026-11-26T00:59:01.000Z"
    assert event["message"] == "hello there"
    assert event["host"]["hostname"] == "web01"
    assert event["process"] == {"name": "myapp", "pid": 2231}
    assert event["event"]["kind"] == "event"
    assert event["canhgac"]["dataset"] == "syslog"
    syslog = event["log"]["syslog"]
    assert syslog["facility"] == {"code": 10, "name": "authpriv"}
    assert syslog["severity"] == {"code": 6, "name": "Informational"}
    assert syslog["priority"] == 86
    assert syslog["appname"] == "myapp"
    assert syslog["procid"] == "2231"
    # authpriv facility: the auth log
    assert event["canhgac"]["logsource"] == {"product": "linux", "service": "auth"}


def test_parser_5424_fields() -> None:
    event = SyslogParser().parse(
        envelope("syslog", '<165>1 2026-11-26T07:00:00.5+07:00 h app 12 MSG1 [a@1 k="v"] body')
    )
    assert event["@timestamp"] == "2026-11-26T00:00:00.500Z"
    s = event["log"]["syslog"]
    assert (s["version"], s["msgid"], s["structured_data"]) == ("1", "MSG1", {"a@1": {"k": "v"}})
    assert event["canhgac"]["logsource"] == {"product": "linux"}


@pytest.mark.parametrize(
    ("app", "service"),
    [
        ("sshd", "sshd"),
        ("sudo", "sudo"),
        ("CRON", "cron"),
        ("crond", "cron"),
        ("su", "auth"),
        ("clamd", "clamav"),
        ("vsftpd", "vsftpd"),
        ("guacd", "guacamole"),
        ("named", "syslog"),
        ("kernel", "syslog"),
        ("useradd", "auth"),
    ],
)
def test_logsource_by_program(app: str, service: str) -> None:
    event = SyslogParser().parse(envelope("syslog", f"<13>Nov 26 07:00:00 h {app}[1]: x"))
    assert event["canhgac"]["logsource"] == {"product": "linux", "service": service}


def test_parser_not_syslog_line() -> None:
    event = SyslogParser().parse(envelope("syslog", "just some text"))
    assert event["message"] == "just some text"
    assert "log" not in event
    assert event["canhgac"]["logsource"] == {"product": "linux"}


def test_parser_tz_is_configurable() -> None:
    event = SyslogParser(default_tz="UTC").parse(envelope("syslog", "<13>Nov 26 07:00:00 h a: x"))
    assert event["@timestamp"] == "2026-11-26T07:00:00.000Z"


def test_parser_rejects_empty_and_missing_text() -> None:
    from canhgac.core.errors import ParseError

    with pytest.raises(ParseError):
        SyslogParser().parse(envelope("syslog", "   "))
    with pytest.raises(ParseError):
        SyslogParser().parse(envelope("syslog", None, None))
    # A shipper's JSON document without any text (a metric, an app's own JSON) is kept as JSON.
    assert SyslogParser().parse(envelope("syslog", None, {"no": "message"}))["json"] == {"no": "message"}
