"""Windows event logs → events: evtx_dump JSON, Winlogbeat JSON and NXLog JSON.

All three end in the same shape: ECS fields as Winlogbeat's ingest pipelines fill them
(`windows_ecs.py`: process, user, source, file, registry, network, dns, event categorisation) plus
`winlog.*` as Winlogbeat keeps it, with `winlog.event_data.<Field>` holding the event's data
fields verbatim so Sigma's Windows field names resolve. Field names that contain spaces
(Defender's `Threat Name`) are stored without them, the way Sigma rules and logsources-thor.yml
name them (`ThreatName`). UserData fields go to `winlog.user_data` and, when the event has no
EventData, to `winlog.event_data` too: Sigma rules address both by the bare field name.

`canhgac.logsource` follows SigmaHQ's logsources-thor.yml: the channel gives the service, the
channel and EventID give the category (Sysmon 1 → process_creation, Security 4688 → process_creation …).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import tzinfo
from types import MappingProxyType
from typing import Any, ClassVar

import orjson
from canhgac.core.envelope import RawEnvelope
from canhgac.core.errors import ParseError
from canhgac.core.event import Event
from canhgac.pipeline.normalize.base import parsers
from canhgac.pipeline.normalize.timestamps import DEFAULT_TZ_NAME, parse_rfc3339, to_utc_iso, zone
from canhgac.pipeline.normalize.windows_ecs import apply_ecs, audit_outcome, long_number, native_tables

try:
    import canhgac_native  # type: ignore[import-untyped,import-not-found,unused-ignore]
except ImportError:  # not built: the Python mapping alone
    canhgac_native = None

# Set to 0 to map evtx_dump records in Python alone (the reference), e.g. to compare the two.
ENV_SWITCH = "CANHGAC_NATIVE_WINDOWS"

SYSMON_CHANNEL = "microsoft-windows-sysmon/operational"

# Channel (lower-case) → Sigma service, from logsources-thor.yml `sources: WinEventLog:<channel>`.
CHANNEL_SERVICES: dict[str, str] = {
    "application": "application",
    "security": "security",
    "system": "system",
    "microsoft-windows-ntlm/operational": "ntlm",
    SYSMON_CHANNEL: "sysmon",
    "microsoft-windows-powershell/operational": "powershell",
    "powershellcore/operational": "powershell",
    "windows powershell": "powershell-classic",
    "microsoft-windows-taskscheduler/operational": "taskscheduler",
    "microsoft-windows-wmi-activity/operational": "wmi",
    "microsoft-windows-dhcp-server/operational": "dhcp",
    "microsoft-windows-printservice/admin": "printservice-admin",
    "microsoft-windows-smbclient/security": "smbclient-security",
    "microsoft-windows-smbclient/connectivity": "smbclient-connectivity",
    "microsoft-windows-smbserver/connectivity": "smbserver-connectivity",
    "microsoft-windows-printservice/operational": "printservice-operational",
    "microsoft-windows-terminalservices-localsessionmanager/operational": "terminalservices-localsessionmanager",
    "microsoft-windows-codeintegrity/operational": "codeintegrity-operational",
    "microsoft-windows-applocker/msi and script": "applocker",
    "microsoft-windows-applocker/exe and dll": "applocker",
    "microsoft-windows-applocker/packaged app-deployment": "applocker",
    "microsoft-windows-applocker/packaged app-execution": "applocker",
    "msexchange management": "msexchange-management",
    "microsoft-windows-windows defender/operational": "windefend",
    "microsoft-windows-windows firewall with advanced security/firewall": "firewall-as",
    "microsoft-windows-bits-client/operational": "bits-client",
    "microsoft-windows-security-mitigations/kernel mode": "security-mitigations",
    "microsoft-windows-security-mitigations/user mode": "security-mitigations",
    "microsoft-windows-diagnosis-scripted/operational": "diagnosis-scripted",
    "microsoft-windows-shell-core/operational": "shell-core",
    "openssh/operational": "openssh",
    "microsoft-windows-ldap-client/debug": "ldap",
    "microsoft-windows-bitlocker/bitlocker management": "bitlocker",
    "microsoft-windows-vhdmp/operational": "vhdmp",
    "microsoft-windows-appxdeploymentserver/operational": "appxdeployment-server",
    "microsoft-windows-lsa/operational": "lsa-server",
    "microsoft-windows-appxpackaging/operational": "appxpackaging-om",
    "microsoft-windows-dns client events/operational": "dns-client",
    "microsoft-windows-appmodel-runtime/admin": "appmodel-runtime",
    "microsoft-windows-capi2/operational": "capi2",
    "microsoft-windows-certificateservicesclient-lifecycle-system/operational": (
        "certificateservicesclient-lifecycle-system"
    ),
    "microsoft-windows-kernel-shimengine/operational": "kernel-shimengine",
    "microsoft-windows-kernel-shimengine/diagnostic": "kernel-shimengine",
    "microsoft-windows-application-experience/program-telemetry": "application-experience",
    "microsoft-windows-application-experience/program-compatibility-assistant": "application-experience",
    "microsoft-windows-ntfs/operational": "ntfs",
    "microsoft-windows-hyper-v-worker": "hyper-v-worker",
    "microsoft-windows-kernel-eventtracing": "kernel-event-tracing",
    "microsoft-windows-sense/operational": "sense",
    "microsoft-servicebus-client/admin": "servicebus-client",
    "microsoft-servicebus-client/operational": "servicebus-client",
    "microsoft-iis-configuration/operational": "iis-configuration",
}

SYSMON_CATEGORIES: dict[int, str] = {
    1: "process_creation",
    2: "file_change",
    3: "network_connection",
    4: "sysmon_status",
    5: "process_termination",
    6: "driver_load",
    7: "image_load",
    8: "create_remote_thread",
    9: "raw_access_thread",
    10: "process_access",
    11: "file_event",
    12: "registry_event",
    13: "registry_set",
    14: "registry_rename",
    15: "create_stream_hash",
    16: "sysmon_status",
    17: "pipe_created",
    18: "pipe_created",
    19: "wmi_event",
    20: "wmi_event",
    21: "wmi_event",
    22: "dns_query",
    23: "file_delete",
    24: "clipboard_change",
    25: "process_tampering",
    26: "file_delete_detected",
    27: "file_block_executable",
    28: "file_block_shredding",
    29: "file_executable_detected",
    255: "sysmon_error",
}
POWERSHELL_CATEGORIES = {4103: "ps_module", 4104: "ps_script"}
CLASSIC_POWERSHELL_CATEGORIES = {
    400: "ps_classic_start",
    600: "ps_classic_provider_start",
    800: "ps_classic_script",
}
# Defender events that carry `Threat Name` or `Path` (logsources-thor.yml, category antivirus).
DEFENDER_ANTIVIRUS_IDS = frozenset({1006, 1007, 1008, 1009, 1010, 1011, 1012, 1017, 1018, 1019, 1115, 1116})


def derive_logsource(channel: str | None, event_id: int | None, event_data: dict[str, Any]) -> dict[str, str]:
    """Sigma logsource {product, service, category} of a Windows event."""
    chan = channel.lower() if isinstance(channel, str) else ""
    service = CHANNEL_SERVICES.get(chan)
    category: str | None = None
    if event_id is not None:
        if service == "sysmon":
            category = SYSMON_CATEGORIES.get(event_id)
            if event_id == 12:
                kind = str(event_data.get("EventType", "")).lower()
                if kind == "createkey":
                    category = "registry_add"
                elif kind in ("deletekey", "deletevalue"):
                    category = "registry_delete"
        elif service == "security" and event_id == 4688:
            category = "process_creation"
        elif service == "powershell":
            category = POWERSHELL_CATEGORIES.get(event_id)
        elif service == "powershell-classic":
            category = CLASSIC_POWERSHELL_CATEGORIES.get(event_id)
        elif service == "windefend" and event_id in DEFENDER_ANTIVIRUS_IDS:
            category = "antivirus"
    result = {"product": "windows"}
    if service:
        result["service"] = service
    if category:
        result["category"] = category
    return result


def field_name(name: str) -> str:
    return name.replace(" ", "") if " " in name else name


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, dict):  # evtx_dump: {"#attributes": {"Qualifiers": …}, "#text": 7045}
        return _int(value.get("#text"))
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _attr(node: Any, name: str) -> Any:
    if isinstance(node, dict):
        attrs = node.get("#attributes")
        if isinstance(attrs, dict):
            return attrs.get(name)
    return None


_NO_ATTRIBUTES: Mapping[str, Any] = MappingProxyType({})


def _attrs(node: Any) -> Mapping[str, Any]:
    if isinstance(node, dict):
        attrs = node.get("#attributes")
        if isinstance(attrs, dict):
            return attrs
    return _NO_ATTRIBUTES


# Value types the mapping form copies as they are (a dict, even a subclass, is unwrapped below).
_PLAIN_VALUES = frozenset({str, int, float, bool, type(None), list})


def _data_fields(node: Any) -> dict[str, Any]:
    """EventData as a flat {Name: value}: accepts evtx_dump's mapping form and its `Data` list form."""
    if not isinstance(node, dict):
        return {}
    if (
        "Data" not in node
        and "#attributes" not in node
        and " " not in "".join(node)
        and _PLAIN_VALUES.issuperset(map(type, node.values()))
    ):
        return dict(node)  # the usual mapping form, nothing to rename or unwrap: copied in C
    out: dict[str, Any] = {}
    for key, value in node.items():
        if not isinstance(value, dict) and key != "Data" and key != "#attributes":
            out[key.replace(" ", "") if " " in key else key] = value  # the usual mapping form
            continue
        if key == "#attributes":
            continue
        if key == "Data" and isinstance(value, list | dict):
            items = value if isinstance(value, list) else [value]
            unnamed: list[Any] = []
            for item in items:
                name = _attr(item, "Name")
                text = item.get("#text") if isinstance(item, dict) else item
                if name:
                    out[field_name(str(name))] = text
                else:
                    unnamed.append(text)
            if unnamed:
                out["Data"] = unnamed[0] if len(unnamed) == 1 else unnamed
            continue
        if isinstance(value, dict) and set(value) <= {"#attributes", "#text"}:
            value = value.get("#text")
        out[field_name(key)] = value
    return out


def _user_data_fields(node: Any) -> dict[str, Any]:
    # UserData wraps its fields in one provider-specific element:
    # {"EventXML": {"#attributes": …, "Param1": …}}
    if not isinstance(node, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "#attributes":
            continue
        if isinstance(value, dict):
            out.update(_data_fields(value))
        else:
            out[field_name(key)] = value
    return out


# (channel, event_id) → (logsource, dataset): a host sends a handful of channels and IDs, and
# deriving them was a fifth of the parser's time. Bounded, as the channel is whatever the record says.
_DERIVED: dict[tuple[str, int | None], tuple[dict[str, str], str]] = {}
_DERIVED_MAX = 4096


def _derive(channel: Any, event_id: Any, event_data: dict[str, Any]) -> tuple[dict[str, str], str]:
    ls = derive_logsource(channel, event_id, event_data)
    logsource = {k: ls[k] for k in ("product", "category", "service") if ls.get(k)}
    dataset = "windows." + str(channel or "unknown").lower().replace("/", ".").replace(" ", "_")
    return logsource, dataset


def _derived(channel: Any, event_id: Any, event_data: dict[str, Any]) -> tuple[dict[str, str], str]:
    """Logsource (a fresh dict: events are mutable) and dataset of a Windows event."""
    if (
        type(channel) is not str
        or not (event_id is None or type(event_id) is int)
        or (
            event_id == 12 and channel.lower() == SYSMON_CHANNEL  # the category depends on EventType
        )
    ):
        return _derive(channel, event_id, event_data)
    key = (channel, event_id)
    hit = _DERIVED.get(key)
    if hit is None:
        hit = _derive(channel, event_id, event_data)
        if len(_DERIVED) < _DERIVED_MAX:
            _DERIVED[key] = hit
    return dict(hit[0]), hit[1]


def _finish(event: Event, winlog: dict[str, Any]) -> Event:
    event_data = winlog.get("event_data")
    if not isinstance(event_data, dict):
        event_data = {}
    user_data = winlog.get("user_data")
    if not event_data and isinstance(user_data, dict) and user_data:
        winlog["event_data"] = event_data = dict(user_data)
    event_id = winlog.get("event_id")
    channel = winlog.get("channel")
    logsource, dataset = _derived(channel, event_id, event_data)
    event.setdefault("canhgac", {})["logsource"] = logsource
    event["winlog"] = winlog
    ecs_event = event.setdefault("event", {})
    if event_id is not None:
        ecs_event.setdefault("code", str(event_id))
    if winlog.get("provider_name"):
        ecs_event.setdefault("provider", winlog["provider_name"])
    if winlog.get("computer_name"):
        event.setdefault("host", {}).setdefault("name", winlog["computer_name"])
    event["canhgac"]["dataset"] = dataset
    apply_ecs(event, logsource.get("service"), event_id, winlog)
    return event


def from_evtx_json(obj: Any) -> Event:
    """evtx_dump JSON ({"Event": {"System": …, "EventData": …}}) → event: in native code when
    the extension is built (the same event; a record it leaves aside is mapped in Python)."""
    if _NATIVE is not None:
        event: Event | None = _NATIVE.event(obj)
        if event is not None:
            return event
    return evtx_event_python(obj)


def from_evtx_text(raw: bytes | str) -> Event:
    """An evtx_dump record given as JSON text → event: read natively without building the
    record's dicts when the extension is built, else (or for what it leaves to orjson) decoded
    and mapped by from_evtx_json."""
    if _NATIVE is not None:
        event: Event | None = _NATIVE.event_json(raw)
        if event is not None:
            return event
    return from_evtx_json(_decode(raw))


def evtx_event_python(obj: Any) -> Event:
    """from_evtx_json in Python: the definition that the native mapping follows."""
    root = obj.get("Event") if isinstance(obj, dict) else None
    if not isinstance(root, dict) or not isinstance(root.get("System"), dict):
        raise ParseError("not an evtx_dump record: no Event.System object")
    system: dict[str, Any] = root["System"]
    get = system.get
    event_id = get("EventID")
    provider = _attrs(get("Provider"))
    winlog: dict[str, Any] = {
        "channel": get("Channel"),
        "event_id": event_id if type(event_id) is int else _int(event_id),
        "provider_name": provider.get("Name"),
        "provider_guid": provider.get("Guid"),
        "computer_name": get("Computer"),
        "record_id": get("EventRecordID"),
        "level": get("Level"),
        "keywords": get("Keywords"),
        "opcode": get("Opcode"),
        "task": get("Task"),
        "version": get("Version"),
    }
    execution = _attrs(get("Execution"))
    pid, tid = execution.get("ProcessID"), execution.get("ThreadID")
    if pid is not None or tid is not None:
        winlog["process"] = {"pid": pid, "thread": {"id": tid}}
    user = _attrs(get("Security")).get("UserID")
    if user:
        winlog["user"] = {"identifier": user}
    if None in winlog.values():  # rarely: evtx_dump records are usually complete
        winlog = {k: v for k, v in winlog.items() if v is not None}
    if "EventData" in root:
        winlog["event_data"] = _data_fields(root["EventData"])
    if "UserData" in root:
        winlog["user_data"] = _user_data_fields(root["UserData"])
    event: Event = {}
    timestamp = _attrs(get("TimeCreated")).get("SystemTime")
    if isinstance(timestamp, str):
        event["@timestamp"] = timestamp
    return _finish(event, winlog)


def native_mapper() -> Any:
    """The native evtx_dump mapping (native/src/windows.rs) built from this module's and
    windows_ecs.py's tables, or None without the extension or with CANHGAC_NATIVE_WINDOWS=0."""
    if canhgac_native is None or not hasattr(canhgac_native, "EvtxMapper") or os.environ.get(ENV_SWITCH) == "0":
        return None
    return canhgac_native.EvtxMapper(native_tables(), _derived, audit_outcome, long_number, SYSMON_CHANNEL)


_NATIVE = native_mapper()


def from_winlogbeat(obj: Any) -> Event:
    """Winlogbeat JSON (as shipped to Elasticsearch / Logstash) → event."""
    if not isinstance(obj, dict) or not isinstance(obj.get("winlog"), dict):
        raise ParseError("not a Winlogbeat record: no winlog object")
    event: Event = {k: v for k, v in obj.items() if k not in ("winlog", "@metadata")}
    winlog = dict(obj["winlog"])
    winlog["event_id"] = _int(winlog.get("event_id"))
    for key in ("event_data", "user_data"):
        data = winlog.get(key)
        if isinstance(data, dict):
            winlog[key] = {field_name(str(k)): v for k, v in data.items()}
    if isinstance(event.get("event"), dict):
        event["event"] = dict(event["event"])
    return _finish(event, winlog)


# im_msvistalog puts System fields and EventData fields side by side at the top level.
NXLOG_SYSTEM_FIELDS = frozenset(
    {
        "EventTime",
        "EventReceivedTime",
        "Hostname",
        "Keywords",
        "EventID",
        "SourceName",
        "ProviderGuid",
        "Version",
        "Task",
        "OpcodeValue",
        "RecordNumber",
        "ActivityID",
        "ExecutionProcessID",
        "ExecutionThreadID",
        "Channel",
        "Domain",
        "AccountName",
        "UserID",
        "AccountType",
        "Message",
        "Opcode",
        "Severity",
        "SeverityValue",
        "Category",
        "SourceModuleName",
        "SourceModuleType",
        "ProcessID",
        "ThreadID",
        "Level",
        "RelatedActivityID",
    }
)
NXLOG_EVENT_TYPES = frozenset({"INFO", "WARNING", "ERROR", "CRITICAL", "VERBOSE", "AUDIT_SUCCESS", "AUDIT_FAILURE"})


def from_nxlog(obj: Any, tz: tzinfo | None = None) -> Event:
    """NXLog im_msvistalog JSON (to_json) → event. NXLog writes EventTime (or, without it,
    EventReceivedTime) as local time without a zone: read in `tz` (Vietnam if not given)."""
    if not isinstance(obj, dict) or "EventID" not in obj or "Channel" not in obj:
        raise ParseError("not an NXLog Windows record: no EventID/Channel")
    event_data: dict[str, Any] = {}
    for key, value in obj.items():
        if key in NXLOG_SYSTEM_FIELDS:
            continue
        if key == "EventType" and value in NXLOG_EVENT_TYPES:
            continue  # NXLog's own severity name, not Sysmon's registry EventType
        event_data[field_name(key)] = value
    winlog: dict[str, Any] = {
        "channel": obj.get("Channel"),
        "event_id": _int(obj.get("EventID")),
        "provider_name": obj.get("SourceName"),
        "provider_guid": obj.get("ProviderGuid"),
        "computer_name": obj.get("Hostname"),
        "record_id": obj.get("RecordNumber"),
        "keywords": obj.get("Keywords"),
        "task": obj.get("Task"),
        "opcode": obj.get("Opcode"),
        "event_data": event_data,
    }
    winlog = {k: v for k, v in winlog.items() if v is not None}
    event: Event = {}
    for key in ("EventTime", "EventReceivedTime"):
        if isinstance(obj.get(key), str):
            ts = parse_rfc3339(obj[key].strip(), tz or zone(DEFAULT_TZ_NAME))
            if ts is not None:
                event["@timestamp"] = to_utc_iso(ts)
                break
    if isinstance(obj.get("Message"), str):
        event["message"] = obj["Message"]
    return _finish(event, winlog)


def _record(raw: RawEnvelope) -> Any:
    if raw.payload is not None:
        return raw.payload
    if raw.message is None:
        raise ParseError("record has neither payload nor message")
    return _decode(raw.message)


def _decode(text: bytes | str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"record is not JSON: {exc}") from exc


@parsers.register("windows-evtx-json")
class EvtxJsonParser:
    name: ClassVar[str] = "windows-evtx-json"

    def parse(self, raw: RawEnvelope) -> Event:
        if raw.payload is None and raw.message is not None:
            return from_evtx_text(raw.message)
        return from_evtx_json(_record(raw))


@parsers.register("winlogbeat")
class WinlogbeatParser:
    name: ClassVar[str] = "winlogbeat"

    def parse(self, raw: RawEnvelope) -> Event:
        return from_winlogbeat(_record(raw))


@parsers.register("nxlog-json")
class NxlogJsonParser:
    name: ClassVar[str] = "nxlog-json"

    def __init__(self, default_tz: str = DEFAULT_TZ_NAME) -> None:
        self.tz = zone(default_tz)

    def parse(self, raw: RawEnvelope) -> Event:
        return from_nxlog(_record(raw), self.tz)
