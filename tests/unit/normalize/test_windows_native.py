"""The native evtx_dump mapping (native/src/windows.rs) makes the Python mapping's event, byte for
byte, or leaves the record to it: on the corpus, on the golden files and on generated records
aimed at every writer's edge (values meaning "none", whitespace Python strips and Rust does not,
numbers int() reads oddly, letters whose case maps into ASCII, repeated algorithms, odd shapes)."""

from __future__ import annotations

import copy
import json
import random
import sys
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from canhgac.core.errors import ParseError
from canhgac.pipeline.normalize import windows
from canhgac.pipeline.normalize.windows_ecs import EVENT_TABLES, WRITER_KINDS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "conformance" / "sigmahq"
GOLDEN = Path(__file__).parent / "golden" / "windows"

SYSMON = "Microsoft-Windows-Sysmon/Operational"


@pytest.fixture(scope="module")
def mapper() -> Any:
    built = windows.native_mapper()
    assert built is not None, "canhgac_native is not built (deploy/local/install.sh builds it)"
    return built


def _records() -> list[dict[str, Any]]:
    assert CORPUS.exists(), f"conformance corpus not found at {CORPUS}"
    return [
        orjson.loads(line)
        for f in sorted((CORPUS / "dev" / "events").glob("*.ndjson"))
        for line in f.read_bytes().splitlines()
        if line.strip()
    ]


def _encodings(record: Any) -> list[bytes | str]:
    """The record's JSON text as orjson writes it, ASCII-escaped and indented (bytes), and as str."""
    text = orjson.dumps(record)
    return [text, json.dumps(record).encode(), json.dumps(record, indent=1, ensure_ascii=False).encode(), text.decode()]


def _same(mapper: Any, record: Any) -> bool:
    """Whether the native mapping made the Python mapping's event from the record's dict and from
    its JSON text (False: it left the dict to Python)."""
    try:
        expected = windows.evtx_event_python(copy.deepcopy(record))
    except ParseError:
        assert mapper.event(record) is None  # the Python mapping raises its error
        assert all(mapper.event_json(text) is None for text in _encodings(record))
        return False
    before = orjson.dumps(record)
    made = mapper.event(record)
    assert orjson.dumps(record) == before  # the record is read, never changed
    for text in _encodings(record):
        from_text = mapper.event_json(text)
        if from_text is not None:
            assert orjson.dumps(from_text) == orjson.dumps(expected)
    if made is None:
        return False
    assert orjson.dumps(made) == orjson.dumps(expected)
    return True


def test_the_corpus_maps_alike_and_nothing_is_left_aside(mapper: Any) -> None:
    records = _records()
    rng = random.Random(5)
    variants = []
    for record in records:
        variant = copy.deepcopy(record)
        data = variant["Event"].get("EventData") or {}
        n = rng.randrange(1000)
        for key in ("Image", "ParentImage", "TargetFilename", "TargetObject", "ImageLoaded"):
            if isinstance(data.get(key), str):
                data[key] = f"C:\\Program Files\\Vendor{n}\\app{n}.exe"
        if isinstance(data.get("CommandLine"), str):
            data["CommandLine"] += " " + " ".join(f"--option{i} value{i}" for i in range(80))
        variants.append(variant)
    mapped = [_same(mapper, record) for record in records + variants]
    assert len(mapped) >= 200 and all(mapped)
    assert all(mapper.event_json(text) is not None for record in records + variants for text in _encodings(record))


def test_the_golden_records_map_alike(mapper: Any) -> None:
    lines = (GOLDEN / "evtx.input.log").read_bytes().splitlines()
    outcomes = [_same(mapper, orjson.loads(line)) for line in lines]
    # the third record's EventData is a `Data` list and the fourth carries UserData: both shapes
    # are left to the Python mapping (evtx_dump writes the mapping form)
    assert outcomes == [True, True, False, False]


def test_from_evtx_json_takes_the_native_mapping_and_the_switch_turns_it_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert windows._NATIVE is not None, "canhgac_native is not built"
    calls: list[Any] = []

    class Counting:
        def event(self, record: Any) -> Any:
            calls.append(record)
            return None  # left aside: the Python mapping must still answer

        def event_json(self, text: Any) -> Any:
            return None

    monkeypatch.setattr(windows, "_NATIVE", Counting())
    record = _records()[0]
    assert windows.from_evtx_json(record) == windows.evtx_event_python(record)
    assert calls == [record]
    assert windows.from_evtx_text(orjson.dumps(record)) == windows.evtx_event_python(record)
    assert len(calls) == 2  # the text was left aside, then decoded and offered as a dict
    with pytest.raises(ParseError, match="not JSON"):
        windows.from_evtx_text(b"{not json")
    monkeypatch.setenv(windows.ENV_SWITCH, "0")
    assert windows.native_mapper() is None


def test_every_writer_of_a_kind_the_native_mapping_knows_is_registered() -> None:
    """A writer without a registered kind is called as Python (correct but slow): the common ones
    must not be."""
    kinds = {
        WRITER_KINDS.get(write, ("python", ""))[0]
        for table in EVENT_TABLES.values()
        for spec in table.values()
        for _, write in spec.fields
    }
    assert {"keyword", "executable", "hashes", "file_path", "registry_path", "registry_data", "pid"} <= kinds


# ---- generated records -----------------------------------------------------------------------

_FIELD_NAMES = sorted(
    {name for table in EVENT_TABLES.values() for spec in table.values() for name, _ in spec.fields}
    | {"EventType", "Threat Name", "Data", "#attributes", "Process Name"}
)
_KEYS = [(service, event_id) for service, table in EVENT_TABLES.items() for event_id in table]
_CHANNELS = {
    "sysmon": "Microsoft-Windows-Sysmon/Operational",
    "security": "Security",
    "system": "System",
    "windefend": "Microsoft-Windows-Windows Defender/Operational",
}

EDGE_VALUES = [
        "", "-", " - ", "\t-\n", "\x1c-", "\x0b", "S-1-0-0", " S-1-0-0", "{00000000-0000-0000-0000-000000000000}",
        "0", "0x0", "0x1F", "0X1f", "+5", "-5", "1_000", "0x_1", " 7", "7 ", "٣", "12345678901234567890",
        "123456789012345678901", "9223372036854775808", "0x7FFFFFFFFFFFFFFF", "0x8000000000000000", "0x",
        "DWORD (0x00000001)", "DWORD (0x)", "DWORD (0xZZ)", "DWORD (0x_1)", "QWORD (0x00000001-0x00000002)",
        "Binary Data", "HKLM\\Software\\Run", "HKEY_LOCAL_MACHINE\\X", "hkcu\\a\\b", "HKEY_CLAſſES_ROOT\\x",
        "HKU", "HKLM\\", "C:\\Windows\\a.EXE", "C:\\x\\invoice.iso:Zone.Identifier", "C:\\x\\noext", "\\x.ÄBC",
        "C:\\x\\y.Ǆ", "a.b.c", "C:\\dir\\", "DOMAIN\\user", "\\user", "DOMAIN\\", "user@REALM", "@REALM",
        "CN=Tran Van B,OU=x,DC=y", "cn=a", "SHA256=ABC,MD5=00,IMPHASH=DEF", "sha1=aa, md5 = BB ,sha1=cc",
        "MD5=\x1cAB\x1c", "SHA256=0000", "IMPHASH=", "Ä=1,SHA1=Ä", "md5", "=x", "10.0.0.1", "::ffff:10.0.0.2",
        "fe80::1%eth0", "[::1]", "true", "False", "tcp", "type:  5 a.b;::ffff:1.2.3.4;", "file:_C:\\x\\y.exe",
        "regkey:_HKLM\\x", "file:_C:\\a;file:_C:\\b", " \x1c- ", "\t\x1f\n", "C:\\x\\Ǆ.ǅ",
]  # fmt: skip
_edge_text = st.sampled_from(EDGE_VALUES)
_values = st.one_of(
    _edge_text,
    st.text(max_size=12),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.sampled_from(["#text", "#attributes", "x"]), st.text(max_size=3), max_size=2),
)
_system_values = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.text(max_size=8),
    st.booleans(),
    st.dictionaries(st.sampled_from(["#attributes", "#text"]), st.one_of(st.text(max_size=4), st.integers(min_value=-(2**63), max_value=2**64 - 1), st.dictionaries(st.sampled_from(["Name", "Guid", "ProcessID", "UserID", "SystemTime"]), st.one_of(st.text(max_size=4), st.integers(min_value=-(2**63), max_value=2**64 - 1), st.none()))), max_size=2),
)  # fmt: skip


@st.composite
def _record(draw: st.DrawFn) -> dict[str, Any]:
    service, event_id = draw(st.sampled_from(_KEYS))
    channel = _CHANNELS[service]
    if draw(st.booleans()):
        channel = draw(
            st.sampled_from([channel.upper(), channel.lower(), "Microsoft-Windows-Sysmon/Operational", "Mystery"])
        )
    system: dict[str, Any] = {
        "Provider": {"#attributes": {"Name": "Provider", "Guid": "{G}"}},
        "EventID": event_id,
        "Channel": channel,
        "Computer": "host.example",
        "Keywords": draw(st.sampled_from(["0x8020000000000000", "0x8010000000000000", "-9214364837600034816", 7])),
        "Execution": {"#attributes": {"ProcessID": 4, "ThreadID": 8}},
        "Security": {"#attributes": {"UserID": "S-1-5-18"}},
        "TimeCreated": {"#attributes": {"SystemTime": "2026-12-07T01:02:03.000Z"}},
    }
    for key in draw(st.lists(st.sampled_from(sorted([*system, "Level", "Version", "EventRecordID"])), max_size=3)):
        if draw(st.booleans()):
            system.pop(key, None)
        else:
            system[key] = draw(_system_values)
    data = draw(st.dictionaries(st.sampled_from(_FIELD_NAMES), _values, max_size=10))
    event: dict[str, Any] = {"System": system}
    shape = draw(st.sampled_from(["data", "data", "data", "none", "null", "list", "userdata"]))
    if shape == "data":
        event["EventData"] = data
    elif shape == "null":
        event["EventData"] = None
    elif shape == "list":
        event["EventData"] = {"Data": [{"#attributes": {"Name": k}, "#text": v} for k, v in data.items()]}
    elif shape == "userdata":
        event["UserData"] = {"EventXML": data}
    return {"Event": event}


def test_every_field_with_every_edge_value(mapper: Any) -> None:
    """Each table entry's every event-data field holding each edge value, beside ordinary ones."""
    mapped = 0
    for (service, event_id), channel in ((key, _CHANNELS[key[0]]) for key in _KEYS):
        names = [name for name, _ in EVENT_TABLES[service][event_id].fields]
        for name in names:
            for value in EDGE_VALUES:
                data = {other: f"C:\\x\\{other}.exe" for other in names} | {name: value}
                record = {
                    "Event": {"System": {"EventID": event_id, "Channel": channel, "Keywords": 7}, "EventData": data}
                }
                mapped += _same(mapper, record)
    assert mapped >= 5000


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=_record())
def test_generated_records_map_alike_or_are_left_to_python(mapper: Any, record: dict[str, Any]) -> None:
    _same(mapper, record)


def test_generated_records_are_mostly_mapped_natively(mapper: Any) -> None:
    """The property above passes trivially if the native mapping leaves everything aside."""
    mapped = 0

    @settings(max_examples=400, deadline=None, database=None)
    @given(record=_record())
    def count(record: dict[str, Any]) -> None:
        nonlocal mapped
        mapped += _same(mapper, record)

    count()
    assert mapped >= 100


@pytest.mark.parametrize(
    ("record", "native"),
    [
        ([], False),
        ({"Event": []}, False),
        ({"Event": {"System": "x"}}, False),
        ({"Event": {"System": {"EventID": "4688", "Channel": "Security"}}}, False),  # windows._int reads the text
        ({"Event": {"System": {"EventID": True, "Channel": "Security"}}}, False),
        ({"Event": {"System": {"EventID": 2**64 - 1, "Channel": "Security"}}}, False),
        ({"Event": {"System": {"EventID": 1, "Channel": "Mïcrosoft"}}}, True),
        ({"Event": {"System": {"EventID": 12, "Channel": SYSMON}, "EventData": {"EventType": "DeleteKey"}}}, True),
        ({"Event": {"System": {"EventID": 1, "Channel": SYSMON}, "EventData": {"Image": {"#text": "x"}}}}, False),
        ({"Event": {"System": {"EventID": 1, "Channel": SYSMON}, "EventData": {"Threat Name": "a", "ThreatName": "b"}}}, True),
    ],
)  # fmt: skip
def test_odd_shapes(mapper: Any, record: Any, native: bool) -> None:
    """Not evtx_dump records (the Python mapping raises), shapes left to it, and shapes mapped natively."""
    assert _same(mapper, record) is native


_SYSTEM_TEXT = '"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Level":4}'


@pytest.mark.parametrize(
    ("text", "native"),
    [
        ('{"Event":{SYSTEM,"EventData":{"A B":"x","AB":"y","A B":"z"}}}', True),  # repeated, renamed
        ('{"Event":{SYSTEM,"EventData":{"Image":"a","Image":"C:\\\\b.exe"}}}', True),
        ('{"Event":{SYSTEM,"EventData":{"\\u0049mage":"C:\\\\x\\u00e9\\\\\\ud83d\\ude00.EXE"}}}', True),
        ('{"Event":{SYSTEM,"EventData":{"ProcessId":-0,"ParentProcessId":9223372036854775807}}}', True),
        ('{"Event":{SYSTEM,"EventData":{"ProcessId":18446744073709551615}}}', False),  # past i64
        ('{"Event":{SYSTEM,"EventData":{"ProcessId":1.5}}}', False),
        ('{"Event":{SYSTEM,"EventData":{"Image":true,"User":[1]}}}', False),
        ('{"Event":{SYSTEM,"EventData":{"Image":{"#text":"x"}}}}', False),
        ('{"Event":{SYSTEM,"EventData":"text"}}', True),
        ('{"Event":{SYSTEM,"EventData":null}}', True),
        ('{"Event":{SYSTEM},"Event":{"System":{"EventID":4688,"Channel":"Security"}}}', True),
        ('  {"Event" : { SYSTEM , "EventData" : { "Image" : "x" } } }  ', True),
        ('{"Event":{"System":{"EventID":1,"Level":2.0,"Channel":"Security"}}}', False),
        ('{"Event":{"System":{"EventID":"1","Channel":"Security"}}}', False),
        ('{"Event":{"System":[]}}', False),
        ('{"Event":{SYSTEM,"EventData":{"Image":"x"}},"a.b":1}', False),  # json.rs: orjson's
        ('{"Event":{SYSTEM,"EventData":{"Image":"\\ud800"}}}', False),  # a lone surrogate
        ('{"Event":{SYSTEM,"EventData":{"Image":"x"}}', False),  # not JSON
    ],
)
def test_text_edge_cases(mapper: Any, text: str, native: bool) -> None:
    text = text.replace("SYSTEM", _SYSTEM_TEXT)
    made = mapper.event_json(text.encode())
    assert (made is not None) == native
    if made is not None:
        assert orjson.dumps(made) == orjson.dumps(windows.evtx_event_python(orjson.loads(text)))
    try:
        expected = windows.evtx_event_python(orjson.loads(text))
    except (orjson.JSONDecodeError, ParseError):
        with pytest.raises(ParseError):
            windows.from_evtx_text(text)
    else:
        assert orjson.dumps(windows.from_evtx_text(text)) == orjson.dumps(expected)


def test_threads_share_the_native_mapping() -> None:
    """The mapping calls back into Python (writers, `_derived`), where another thread may run and
    map too: it gets the same event (the busy mapping leaves the record to Python), never an error."""
    records = _records()
    expected = [orjson.dumps(windows.evtx_event_python(copy.deepcopy(r))) for r in records]
    texts = [orjson.dumps(r) for r in records]
    outcomes: list[bool] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                outcomes.append([orjson.dumps(windows.from_evtx_text(t)) for t in texts] == expected)
                outcomes.append([orjson.dumps(windows.from_evtx_json(r)) for r in records] == expected)
        except BaseException as exc:
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as CPython allows
    try:
        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert len(outcomes) == 40 and all(outcomes)
