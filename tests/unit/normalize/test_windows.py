"""Windows parsers: evtx_dump JSON (golden files), Winlogbeat and NXLog JSON, bad input."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from canhgac.core.envelope import RawEnvelope
from canhgac.core.errors import ParseError
from canhgac.pipeline.normalize.base import parsers
from canhgac.pipeline.normalize.windows import derive_logsource, from_evtx_json, from_nxlog, from_winlogbeat

GOLDEN = Path(__file__).parent / "golden" / "windows"


def test_evtx_golden() -> None:
    inputs = (GOLDEN / "evtx.input.log").read_bytes().splitlines()
    expected = (GOLDEN / "evtx.expected.jsonl").read_bytes().splitlines()
    assert len(inputs) == len(expected)
    for line, want in zip(inputs, expected, strict=True):
        assert from_evtx_json(orjson.loads(line)) == orjson.loads(want)


def test_evtx_shapes() -> None:
    events = [from_evtx_json(orjson.loads(line)) for line in (GOLDEN / "evtx.input.log").read_bytes().splitlines()]
    sysmon, defender, registry, cleared = events
    assert sysmon["canhgac"]["logsource"] == {
        "product": "windows",
        "service": "sysmon",
        "category": "process_creation",
    }
    assert sysmon["winlog"]["event_id"] == 1 and sysmon["event"]["code"] == "1"
    assert sysmon["winlog"]["event_data"]["Image"].endswith("reg.exe")
    assert defender["winlog"]["event_data"]["ThreatName"] == "Tool:Win32/EICAR_Test_File"
    assert defender["canhgac"]["logsource"] == {"product": "windows", "service": "windefend"}
    assert registry["canhgac"]["logsource"]["category"] == "registry_add"
    assert registry["winlog"]["event_data"] == {
        "EventType": "CreateKey",
        "TargetObject": "HKLM\\SOFTWARE\\Evil",
    }
    assert cleared["winlog"]["event_id"] == 1102
    assert cleared["winlog"]["user_data"]["SubjectUserName"] == "admin"
    assert cleared["winlog"]["event_data"]["SubjectUserName"] == "admin"


@pytest.mark.parametrize(
    ("channel", "eid", "data", "want"),
    [
        ("Security", 4688, {}, {"product": "windows", "service": "security", "category": "process_creation"}),
        ("Security", 4624, {}, {"product": "windows", "service": "security"}),
        (
            "Microsoft-Windows-Sysmon/Operational",
            13,
            {},
            {"product": "windows", "service": "sysmon", "category": "registry_set"},
        ),
        (
            "Microsoft-Windows-Sysmon/Operational",
            12,
            {"EventType": "DeleteValue"},
            {"product": "windows", "service": "sysmon", "category": "registry_delete"},
        ),
        (
            "Microsoft-Windows-PowerShell/Operational",
            4104,
            {},
            {"product": "windows", "service": "powershell", "category": "ps_script"},
        ),
        (
            "Windows PowerShell",
            400,
            {},
            {"product": "windows", "service": "powershell-classic", "category": "ps_classic_start"},
        ),
        (
            "Microsoft-Windows-Windows Defender/Operational",
            1116,
            {},
            {"product": "windows", "service": "windefend", "category": "antivirus"},
        ),
        ("Some/Unknown", 1, {}, {"product": "windows"}),
    ],
)
def test_logsource_table(channel: str, eid: int, data: dict[str, str], want: dict[str, str]) -> None:
    assert derive_logsource(channel, eid, data) == want


def test_winlogbeat() -> None:
    ev = from_winlogbeat(
        {
            "@timestamp": "2026-01-01T00:00:00Z",
            "message": "A process was created",
            "winlog": {
                "channel": "Security",
                "event_id": "4688",
                "provider_name": "Microsoft-Windows-Security-Auditing",
                "computer_name": "dc1",
                "event_data": {"NewProcessName": "C:\\x.exe", "Some Field": "v"},
            },
        }
    )
    assert ev["winlog"]["event_id"] == 4688
    assert ev["winlog"]["event_data"] == {"NewProcessName": "C:\\x.exe", "SomeField": "v"}
    assert ev["canhgac"]["logsource"]["category"] == "process_creation"
    assert ev["host"]["name"] == "dc1" and ev["message"] == "A process was created"


def test_nxlog() -> None:
    ev = from_nxlog(
        {
            "EventTime": "2026-01-01 07:00:00",
            "Hostname": "ws1",
            "EventID": 13,
            "SourceName": "Microsoft-Windows-Sysmon",
            "Channel": "Microsoft-Windows-Sysmon/Operational",
            "EventType": "SetValue",
            "Severity": "INFO",
            "TargetObject": "HKCU\\Run\\x",
            "Details": "c:\\evil.exe",
            "Message": "Registry value set",
        }
    )
    assert ev["winlog"]["event_data"] == {
        "EventType": "SetValue",
        "TargetObject": "HKCU\\Run\\x",
        "Details": "c:\\evil.exe",
    }
    assert ev["canhgac"]["logsource"] == {
        "product": "windows",
        "service": "sysmon",
        "category": "registry_set",
    }
    info = from_nxlog({"EventID": 4624, "Channel": "Security", "EventType": "AUDIT_SUCCESS"})
    assert info["winlog"]["event_data"] == {}


def test_registered_parsers_read_payload_or_message() -> None:
    line = (GOLDEN / "evtx.input.log").read_bytes().splitlines()[0].decode()
    parser = parsers.get("windows-evtx-json")()
    from_message = parser.parse(RawEnvelope(source_id="s", agency="a", collector="c", format="x", message=line))
    from_payload = parser.parse(
        RawEnvelope(source_id="s", agency="a", collector="c", format="x", payload=orjson.loads(line))
    )
    assert from_message == from_payload
    assert {"winlogbeat", "nxlog-json", "windows-evtx-json"} <= set(parsers.names())


@pytest.mark.parametrize("name", ["windows-evtx-json", "winlogbeat", "nxlog-json"])
@pytest.mark.parametrize("message", ["not json", "[]", "{}", '{"Event": 3}', '{"winlog": []}', "null"])
def test_bad_input_raises_parse_error(name: str, message: str) -> None:
    parser = parsers.get(name)()
    with pytest.raises(ParseError):
        parser.parse(RawEnvelope(source_id="s", agency="a", collector="c", format="x", message=message))
