"""Windows events in ECS, as Winlogbeat's Security and Sysmon ingest pipelines fill them.

`winlog.event_data` stays verbatim (Sigma's Windows rules read it); this adds what analysts pivot
and search on: `process.*`, `user.*` (and `user.target.*`, `user.effective.*`, `group.*`),
`source.*`, `destination.*`, `network.*`, `file.*`, `registry.*`, `dns.*`, `service.name` and
`event.category` / `type` / `action` / `outcome`.

One table entry per (channel service, event id): its ECS categorisation and the groups of
event-data fields it carries. Where Winlogbeat and ECS disagree, ECS wins and the entry says why
(Sysmon 23's hashes are the deleted file's, so `file.hash`; 4740's TargetDomainName is the caller
computer, so `source.domain`). A value that says "none" ("-", "", the NULL SID, a zero hash) is
left out, as Winlogbeat does. Incoming ECS fields are kept (a shipper that already filled them,
such as Winlogbeat 7's in-Beat processors, wins); categorisation is always ours.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from canhgac.core.event import Event
from canhgac.pipeline.normalize.fieldvalues import add_related, ip_or_none

# A writer puts one event-data value into the event; it ignores values it cannot use.
Writer = Callable[[Event, Any], None]

_HASH_ALGORITHMS = frozenset({"md5", "sha1", "sha256", "sha384", "sha512"})
_NONE_VALUES = frozenset({"", "-", "S-1-0-0", "{00000000-0000-0000-0000-000000000000}"})
_MAX_LONG = 2**63 - 1
_EDGE = " \t\r\n"  # a value with these at an edge is compared stripped


def _text(value: Any) -> str | None:
    if type(value) is str:
        if value in _NONE_VALUES:
            return None
        if (value[0] in _EDGE or value[-1] in _EDGE) and value.strip() in _NONE_VALUES:
            return None
        return value
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    return None


def long_number(value: Any) -> int | None:
    """Decimal or `0x` hex (Security writes process ids in hex), as evtx, Winlogbeat or NXLog carry it."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= _MAX_LONG else None
    if not isinstance(value, str) or not value or len(value) > 20:
        return None
    try:
        number = int(value, 16) if value[:2] in ("0x", "0X") else int(value)
    except ValueError:
        return None
    return number if 0 <= number <= _MAX_LONG else None


def _node(event: Event, path: tuple[str, ...]) -> dict[str, Any]:
    node = event
    for part in path:
        child = node.get(part)
        if type(child) is not dict:
            child = node[part] = {}
        node = child
    return node


def _put(event: Event, path: tuple[str, ...], value: Any) -> None:
    """Set a leaf unless the record already had it (a shipper's own ECS value wins)."""
    _node(event, path[:-1]).setdefault(path[-1], value)


Setter = Callable[[Event, Any], None]

# Each writer's kind and dotted path, for the native mapping (native/src/windows.rs): it writes
# the kinds it knows the same way and calls any other writer as the Python function it is.
WRITER_KINDS: dict[Writer, tuple[str, str]] = {}


def _kind(write: Writer, kind: str, dotted: str = "") -> Writer:
    WRITER_KINDS[write] = (kind, dotted)
    return write


def _setter(dotted: str) -> Setter:
    """`_put` for one dotted field, built once: this runs for every field of every Windows event."""
    parts = tuple(dotted.split("."))
    parent, leaf = parts[:-1], parts[-1]
    if len(parent) == 1:  # most ECS leaves: user.name, source.ip, process.pid …
        top = parent[0]

        def put_top(event: Event, value: Any) -> None:
            node = event.get(top)
            if type(node) is not dict:
                node = event[top] = {}
            node.setdefault(leaf, value)

        return put_top

    def put(event: Event, value: Any) -> None:
        _node(event, parent).setdefault(leaf, value)

    return put


# ---- writers ---------------------------------------------------------------------------------------


def keyword(dotted: str) -> Writer:
    *parent, leaf = dotted.split(".")
    path = tuple(parent)

    # `_text` and `_put` inline: ten of these run per Sysmon event, and the calls were half their cost
    def write(event: Event, value: Any) -> None:
        if type(value) is str:
            if value in _NONE_VALUES or ((value[0] in _EDGE or value[-1] in _EDGE) and value.strip() in _NONE_VALUES):
                return
            text = value
        else:
            found = _text(value)
            if found is None:
                return
            text = found
        node = event
        for part in path:
            child = node.get(part)
            if type(child) is not dict:
                child = node[part] = {}
            node = child
        node.setdefault(leaf, text)

    return _kind(write, "keyword", dotted)


def long(dotted: str) -> Writer:
    put = _setter(dotted)

    def write(event: Event, value: Any) -> None:
        number = long_number(value)
        if number is not None:
            put(event, number)

    return _kind(write, "long", dotted)


def pid(dotted: str) -> Writer:
    """A process id; 0 ("0x0" in a network logon) means no process."""
    *parent, leaf = dotted.split(".")
    path = tuple(parent)

    def write(event: Event, value: Any) -> None:
        number = long_number(value)
        if number:
            node = event
            for part in path:
                child = node.get(part)
                if type(child) is not dict:
                    child = node[part] = {}
                node = child
            node.setdefault(leaf, number)

    return _kind(write, "pid", dotted)


def port(dotted: str) -> Writer:
    put = _setter(dotted)

    def write(event: Event, value: Any) -> None:
        number = long_number(value)
        if number is not None and 0 < number <= 65535:
            put(event, number)

    return _kind(write, "port", dotted)


def address(dotted: str) -> Writer:
    """An IP (Kerberos writes IPv4 as `::ffff:a.b.c.d`); also added to related.ip."""
    put = _setter(dotted)

    def write(event: Event, value: Any) -> None:
        text = _text(value)
        if text is None:
            return
        if text.startswith("::ffff:") and "." in text:
            text = text[7:]
        ip = ip_or_none(text)
        if ip is not None:
            put(event, ip)
            add_related(event, "ip", ip)

    return write


def executable(prefix: str) -> Writer:
    """`<prefix>.executable` and `<prefix>.name` (the file name, what analysts search for)."""
    path = tuple(prefix.split("."))

    def write(event: Event, value: Any) -> None:
        text = _text(value)
        if text is None:
            return
        node = _node(event, path)
        node.setdefault("executable", text)
        node.setdefault("name", text.rsplit("\\", 1)[-1])

    return _kind(write, "executable", prefix)


def user_name(prefix: str) -> Writer:
    """`<prefix>.name` from a user name that may carry a realm (`lan@SOTTTT.LOCAL`)."""
    path = tuple(prefix.split("."))

    def write(event: Event, value: Any) -> None:
        text = _text(value)
        if text is None:
            return
        name = text.split("@", 1)[0] or text
        _node(event, path).setdefault("name", name)
        add_related(event, "user", name)

    return _kind(write, "user_name", prefix)


def domain_user(prefix: str) -> Writer:
    """Sysmon's `DOMAIN\\name` into `<prefix>.domain` and `<prefix>.name`."""
    path = tuple(prefix.split("."))

    def write(event: Event, value: Any) -> None:
        text = _text(value)
        if text is None:
            return
        domain, _, name = text.rpartition("\\")
        node = _node(event, path)
        if domain:
            node.setdefault("domain", domain)
        node.setdefault("name", name)
        add_related(event, "user", name)

    return _kind(write, "domain_user", prefix)


def member_name(prefix: str) -> Writer:
    """A group member's distinguished name (`CN=Tran Van B,OU=…,DC=sotttt,DC=local`): its CN."""
    path = tuple(prefix.split("."))

    def write(event: Event, value: Any) -> None:
        text = _text(value)
        if text is None:
            return
        first = text.split(",", 1)[0]
        name = first[3:] if first[:3].upper() == "CN=" else first
        if name:
            _node(event, path).setdefault("name", name)
            add_related(event, "user", name)

    return write


def hashes(prefix: str) -> Writer:
    """Sysmon's `SHA256=…,MD5=…,IMPHASH=…` into `<prefix>.hash.*` (imphash to `<prefix>.pe.imphash`)."""
    hash_path = (*prefix.split("."), "hash")
    pe_path = (*prefix.split("."), "pe")

    def write(event: Event, value: Any) -> None:
        if not isinstance(value, str) or "=" not in value:
            return
        found: dict[str, str] = {}
        if value.isascii():  # lower-cased once: per part or whole is the same for ASCII
            for pair in value.lower().split(","):
                algorithm, _, digest = pair.partition("=")
                digest = digest.strip()
                if digest and digest.strip("0"):  # Sysmon writes zeros for "not computed"
                    found[algorithm.strip()] = digest
        else:
            for pair in value.split(","):
                algorithm, _, digest = pair.partition("=")
                digest = digest.strip().lower()
                if digest and digest.strip("0"):
                    found[algorithm.strip().lower()] = digest
        imphash = found.pop("imphash", None)
        if imphash is not None:
            _node(event, pe_path).setdefault("imphash", imphash)
        digests = {k: v for k, v in found.items() if k in _HASH_ALGORITHMS}
        if digests:
            node = _node(event, hash_path)
            for algorithm, digest in digests.items():
                node.setdefault(algorithm, digest)
            related = event.setdefault("related", {}).setdefault("hash", [])
            related.extend(d for d in digests.values() if d not in related)

    return _kind(write, "hashes", prefix)


def file_path(event: Event, value: Any) -> None:
    text = _text(value)
    if text is None:
        return
    node = _node(event, ("file",))
    node.setdefault("path", text)
    directory, sep, name = text.rpartition("\\")
    if sep:
        node.setdefault("directory", directory)
    node.setdefault("name", name)
    stem = name.split(":", 1)[0]  # an alternate data stream: "invoice.iso:Zone.Identifier"
    if "." in stem:
        node.setdefault("extension", stem.rsplit(".", 1)[1].lower())


_HIVES = {
    "HKEY_CLASSES_ROOT": "HKCR", "HKCR": "HKCR", "HKEY_CURRENT_CONFIG": "HKCC", "HKCC": "HKCC",
    "HKEY_CURRENT_USER": "HKCU", "HKCU": "HKCU", "HKEY_LOCAL_MACHINE": "HKLM", "HKLM": "HKLM",
    "HKEY_USERS": "HKU", "HKU": "HKU",
}  # fmt: skip


def registry_path(event: Event, value: Any) -> None:
    text = _text(value)
    if text is None:
        return
    node = _node(event, ("registry",))
    node.setdefault("path", text)
    hive, _, key = text.partition("\\")
    short = _HIVES.get(hive.upper())
    if short is not None:
        node.setdefault("hive", short)
        if key:
            node.setdefault("key", key)
    node.setdefault("value", text.rsplit("\\", 1)[-1])


def registry_data(event: Event, value: Any) -> None:
    """Sysmon 13's Details: `DWORD (0x00000001)`, `QWORD (0x…-0x…)`, `Binary Data` or a string."""
    text = _text(value)
    if text is None:
        return
    kind = "REG_SZ"
    data = text
    if text.startswith("DWORD (0x") and text.endswith(")"):
        number = long_number(text[7:-1])
        if number is not None:
            kind, data = "SZ_DWORD", str(number)
    elif text.startswith("QWORD (0x") and text.endswith(")"):
        high, _, low = text[7:-1].partition("-")
        hi, lo = long_number(high), long_number(low)
        if hi is not None and lo is not None:
            kind, data = "SZ_QWORD", str((hi << 32) + lo)
    elif text == "Binary Data":
        kind = "REG_BINARY"
    _node(event, ("registry",)).setdefault("data", {"strings": [data], "type": kind})


def network_direction(event: Event, value: Any) -> None:
    flag = str(value).lower()
    if flag in ("true", "false"):
        _put(event, ("network", "direction"), "egress" if flag == "true" else "ingress")


def network_type(event: Event, value: Any) -> None:
    flag = str(value).lower()
    if flag in ("true", "false"):
        _put(event, ("network", "type"), "ipv6" if flag == "true" else "ipv4")


def network_transport(event: Event, value: Any) -> None:
    text = _text(value)
    if text is not None:
        _put(event, ("network", "transport"), text.lower())


def dns_results(event: Event, value: Any) -> None:
    """Sysmon 22's `type:  5 cdn.example.net;::ffff:203.0.113.80;` → dns.resolved_ip."""
    if not isinstance(value, str):
        return
    resolved: list[str] = []
    for answer in value.split(";"):
        answer = answer.strip()
        if not answer or answer.startswith("type:"):
            continue
        if answer.startswith("::ffff:") and "." in answer:
            answer = answer[7:]
        ip = ip_or_none(answer)
        if ip is not None and ip not in resolved:
            resolved.append(ip)
            add_related(event, "ip", ip)
    if resolved:
        _node(event, ("dns",)).setdefault("resolved_ip", resolved)


def defender_path(event: Event, value: Any) -> None:
    """Defender's `Path`: `file:_C:\\…\\x.exe` is the file; other resources (`regkey:_…`, several
    `;`-separated ones) are kept as Defender wrote them."""
    text = _text(value)
    if text is None:
        return
    if text.startswith("file:_") and ";" not in text:
        file_path(event, text[6:])
    else:
        _put(event, ("file", "path"), text)


_kind(file_path, "file_path")
_kind(registry_path, "registry_path")
_kind(registry_data, "registry_data")


# ---- field groups (event-data name → writer) ------------------------------------------------------

Fields = tuple[tuple[str, Writer], ...]

SUBJECT: Fields = (
    ("SubjectUserName", user_name("user")),
    ("SubjectDomainName", keyword("user.domain")),
    ("SubjectUserSid", keyword("user.id")),
)
# The account a logon, logoff or Kerberos event is about: ECS's user.* for authentication.
LOGON_ACCOUNT: Fields = (
    ("TargetUserName", user_name("user")),
    ("TargetDomainName", keyword("user.domain")),
    ("TargetUserSid", keyword("user.id")),
    ("TargetSid", keyword("user.id")),
)
# The account an administrator created, changed, reset, disabled, deleted or locked out.
TARGET_ACCOUNT: Fields = (
    ("TargetUserName", user_name("user.target")),
    ("TargetDomainName", keyword("user.target.domain")),
    ("TargetSid", keyword("user.target.id")),
)
# Where a logon came from and which process asked for it.
LOGON_ORIGIN: Fields = (
    ("IpAddress", address("source.ip")),
    ("IpPort", port("source.port")),
    ("WorkstationName", keyword("source.domain")),
    ("Workstation", keyword("source.domain")),
    ("ProcessName", executable("process")),
    ("ProcessId", pid("process.pid")),
)
GROUP_MEMBERSHIP: Fields = (
    ("MemberName", member_name("user.target")),
    ("MemberSid", keyword("user.target.id")),
    ("TargetUserName", keyword("group.name")),
    ("TargetSid", keyword("group.id")),
    ("TargetDomainName", keyword("group.domain")),
)
SECURITY_NEW_PROCESS: Fields = (
    ("NewProcessName", executable("process")),
    ("NewProcessId", pid("process.pid")),
    ("CommandLine", keyword("process.command_line")),
    ("ParentProcessName", executable("process.parent")),
    ("ProcessId", pid("process.parent.pid")),
    ("TargetUserName", user_name("user.effective")),
    ("TargetDomainName", keyword("user.effective.domain")),
    ("TargetUserSid", keyword("user.effective.id")),
)
SECURITY_PROCESS: Fields = (("ProcessName", executable("process")), ("ProcessId", pid("process.pid")))
SERVICE: Fields = (("ServiceName", keyword("service.name")),)

SYSMON_PROCESS: Fields = (
    ("Image", executable("process")),
    ("ProcessId", pid("process.pid")),
    ("ProcessGuid", keyword("process.entity_id")),
    ("User", domain_user("user")),
)
SYSMON_PROCESS_CREATION: Fields = (
    *SYSMON_PROCESS,
    ("CommandLine", keyword("process.command_line")),
    ("CurrentDirectory", keyword("process.working_directory")),
    ("Hashes", hashes("process")),
    ("OriginalFileName", keyword("process.pe.original_file_name")),
    ("Company", keyword("process.pe.company")),
    ("Description", keyword("process.pe.description")),
    ("FileVersion", keyword("process.pe.file_version")),
    ("Product", keyword("process.pe.product")),
    ("ParentImage", executable("process.parent")),
    ("ParentProcessId", pid("process.parent.pid")),
    ("ParentProcessGuid", keyword("process.parent.entity_id")),
    ("ParentCommandLine", keyword("process.parent.command_line")),
)
# Sysmon 8 and 10: the acting process is the source; the target stays in event_data.
SYSMON_SOURCE_PROCESS: Fields = (
    ("SourceImage", executable("process")),
    ("SourceProcessId", pid("process.pid")),
    ("SourceProcessGuid", keyword("process.entity_id")),
    ("SourceProcessGUID", keyword("process.entity_id")),
    ("SourceThreadId", long("process.thread.id")),
    ("SourceUser", domain_user("user")),
)
SYSMON_NETWORK: Fields = (
    ("Protocol", network_transport),
    ("Initiated", network_direction),
    ("SourceIsIpv6", network_type),
    ("SourceIp", address("source.ip")),
    ("SourcePort", port("source.port")),
    ("SourceHostname", keyword("source.domain")),
    ("DestinationIp", address("destination.ip")),
    ("DestinationPort", port("destination.port")),
    ("DestinationHostname", keyword("destination.domain")),
    ("DestinationPortName", keyword("network.protocol")),
)
SYSMON_TARGET_FILE: Fields = (("TargetFilename", file_path),)
SYSMON_REGISTRY: Fields = (("TargetObject", registry_path), ("Details", registry_data))
SYSMON_IMAGE_LOAD: Fields = (
    ("ImageLoaded", file_path),
    ("Hashes", hashes("file")),
    ("Signature", keyword("file.code_signature.subject_name")),
    ("SignatureStatus", keyword("file.code_signature.status")),
    ("OriginalFileName", keyword("file.pe.original_file_name")),
    ("Company", keyword("file.pe.company")),
    ("Description", keyword("file.pe.description")),
    ("FileVersion", keyword("file.pe.file_version")),
    ("Product", keyword("file.pe.product")),
)
SYSMON_DNS: Fields = (("QueryName", keyword("dns.question.name")), ("QueryResults", dns_results))


@dataclass(frozen=True, slots=True)
class EventSpec:
    category: tuple[str, ...]
    type: tuple[str, ...]
    action: str
    fields: Fields = ()
    outcome: str | None = None  # when the event id alone says it; else Security's audit keywords


def spec(category: str, types: str, action: str, *groups: Fields, outcome: str | None = None) -> EventSpec:
    fields = tuple(item for group in groups for item in group)
    return EventSpec(tuple(category.split()), tuple(types.split()), action, fields, outcome)


# Security: categorisation and actions as Winlogbeat's security pipeline names them.
SECURITY: dict[int, EventSpec] = {
    1102: spec("iam", "admin change", "audit-log-cleared", SUBJECT),
    4624: spec("authentication", "start", "logged-in", LOGON_ACCOUNT, LOGON_ORIGIN),
    4625: spec("authentication", "start", "logon-failed", LOGON_ACCOUNT, LOGON_ORIGIN, outcome="failure"),
    4634: spec("authentication", "end", "logged-out", LOGON_ACCOUNT),
    4647: spec("authentication", "end", "logged-out", LOGON_ACCOUNT),
    4648: spec(
        "authentication",
        "start",
        "logged-in-explicit",
        SUBJECT,
        LOGON_ORIGIN,
        (
            ("TargetUserName", user_name("user.effective")),
            ("TargetDomainName", keyword("user.effective.domain")),
            ("TargetServerName", keyword("destination.domain")),
        ),
    ),
    4672: spec("iam", "admin", "logged-in-special", SUBJECT),
    4688: spec("process", "start", "created-process", SUBJECT, SECURITY_NEW_PROCESS),
    4689: spec("process", "end", "exited-process", SUBJECT, SECURITY_PROCESS),
    4697: spec("iam configuration", "admin change", "service-installed", SUBJECT, SERVICE),
    4698: spec("iam configuration", "creation admin", "scheduled-task-created", SUBJECT),
    4699: spec("iam configuration", "deletion admin", "scheduled-task-deleted", SUBJECT),
    4702: spec("iam configuration", "change admin", "scheduled-task-updated", SUBJECT),
    4720: spec("iam", "user creation", "added-user-account", SUBJECT, TARGET_ACCOUNT),
    4722: spec("iam", "user change", "enabled-user-account", SUBJECT, TARGET_ACCOUNT),
    4723: spec("iam", "user change", "changed-password", SUBJECT, TARGET_ACCOUNT),
    4724: spec("iam", "user change", "reset-password", SUBJECT, TARGET_ACCOUNT),
    4725: spec("iam", "user deletion", "disabled-user-account", SUBJECT, TARGET_ACCOUNT),
    4726: spec("iam", "user deletion", "deleted-user-account", SUBJECT, TARGET_ACCOUNT),
    4727: spec("iam", "group creation", "added-group-account", SUBJECT, GROUP_MEMBERSHIP),
    4728: spec("iam", "group change", "added-member-to-group", SUBJECT, GROUP_MEMBERSHIP),
    4729: spec("iam", "group change", "removed-member-from-group", SUBJECT, GROUP_MEMBERSHIP),
    4731: spec("iam", "group creation", "added-group-account", SUBJECT, GROUP_MEMBERSHIP),
    4732: spec("iam", "group change", "added-member-to-group", SUBJECT, GROUP_MEMBERSHIP),
    4733: spec("iam", "group change", "removed-member-from-group", SUBJECT, GROUP_MEMBERSHIP),
    4738: spec("iam", "user change", "modified-user-account", SUBJECT, TARGET_ACCOUNT),
    # 4740's TargetDomainName is the caller computer (Microsoft's field description), not a domain.
    4740: spec(
        "iam",
        "user change",
        "locked-out-user-account",
        SUBJECT,
        (
            ("TargetUserName", user_name("user.target")),
            ("TargetSid", keyword("user.target.id")),
            ("TargetDomainName", keyword("source.domain")),
        ),
    ),
    4754: spec("iam", "group creation", "added-group-account", SUBJECT, GROUP_MEMBERSHIP),
    4756: spec("iam", "group change", "added-member-to-group", SUBJECT, GROUP_MEMBERSHIP),
    4757: spec("iam", "group change", "removed-member-from-group", SUBJECT, GROUP_MEMBERSHIP),
    4767: spec("iam", "user change", "unlocked-user-account", SUBJECT, TARGET_ACCOUNT),
    4768: spec(
        "authentication", "start", "kerberos-authentication-ticket-requested", LOGON_ACCOUNT, LOGON_ORIGIN, SERVICE
    ),
    4769: spec("authentication", "start", "kerberos-service-ticket-requested", LOGON_ACCOUNT, LOGON_ORIGIN, SERVICE),
    4770: spec("authentication", "start", "kerberos-service-ticket-renewed", LOGON_ACCOUNT, LOGON_ORIGIN, SERVICE),
    4771: spec(
        "authentication", "start", "kerberos-preauth-failed", LOGON_ACCOUNT, LOGON_ORIGIN, SERVICE, outcome="failure"
    ),
    4776: spec("authentication", "start", "credential-validated", LOGON_ACCOUNT, LOGON_ORIGIN),
    4778: spec("authentication session", "start", "session-reconnected", (("AccountName", user_name("user")),)),
    4779: spec("authentication session", "end", "session-disconnected", (("AccountName", user_name("user")),)),
}

SYSTEM: dict[int, EventSpec] = {
    7045: spec("configuration", "creation", "service-installed", SERVICE),
}

# Sysmon: categorisation and actions as Winlogbeat's sysmon pipeline names them.
SYSMON: dict[int, EventSpec] = {
    1: spec("process", "start", "Process creation", SYSMON_PROCESS_CREATION),
    2: spec("file", "change", "A process changed a file creation time", SYSMON_PROCESS, SYSMON_TARGET_FILE),
    3: spec("network", "start connection protocol", "Network connection", SYSMON_PROCESS, SYSMON_NETWORK),
    5: spec("process", "end", "Process terminated", SYSMON_PROCESS),
    6: spec("driver", "start", "Driver loaded", SYSMON_IMAGE_LOAD),
    7: spec("process", "change", "Image loaded", SYSMON_PROCESS, SYSMON_IMAGE_LOAD),
    8: spec("process", "change", "CreateRemoteThread", SYSMON_SOURCE_PROCESS),
    9: spec("process", "access", "RawAccessRead", SYSMON_PROCESS, (("Device", file_path),)),
    10: spec("process", "access", "ProcessAccess", SYSMON_SOURCE_PROCESS),
    11: spec("file", "creation", "FileCreate", SYSMON_PROCESS, SYSMON_TARGET_FILE),
    12: spec(
        "configuration registry", "change", "RegistryEvent (Object create and delete)", SYSMON_PROCESS, SYSMON_REGISTRY
    ),
    13: spec("configuration registry", "change", "RegistryEvent (Value Set)", SYSMON_PROCESS, SYSMON_REGISTRY),
    14: spec(
        "configuration registry", "change", "RegistryEvent (Key and Value Rename)", SYSMON_PROCESS, SYSMON_REGISTRY
    ),
    15: spec("file", "access", "FileCreateStreamHash", SYSMON_PROCESS, SYSMON_TARGET_FILE, (("Hash", hashes("file")),)),
    17: spec("file", "creation", "PipeEvent (Pipe Created)", SYSMON_PROCESS, (("PipeName", keyword("file.name")),)),
    18: spec("file", "access", "PipeEvent (Pipe Connected)", SYSMON_PROCESS, (("PipeName", keyword("file.name")),)),
    22: spec(
        "network",
        "connection protocol info",
        "DNSEvent (DNS query)",
        SYSMON_PROCESS,
        SYSMON_DNS,
    ),
    # 23 and 26: the hashes are the deleted file's (Winlogbeat files them under process.hash).
    23: spec(
        "file",
        "deletion",
        "FileDelete (File Delete archived)",
        SYSMON_PROCESS,
        SYSMON_TARGET_FILE,
        (("Hashes", hashes("file")),),
    ),
    25: spec("process", "change", "ProcessTampering (Process image change)", SYSMON_PROCESS),
    26: spec(
        "file",
        "deletion",
        "FileDeleteDetected (File Delete logged)",
        SYSMON_PROCESS,
        SYSMON_TARGET_FILE,
        (("Hashes", hashes("file")),),
    ),
}

# Windows Defender: the threat's name is the signature (rule.name), Path the file (Sigma's
# antivirus `Signature` and `Filename`, rules/fieldmap.py).
DEFENDER_THREAT: Fields = (("ThreatName", keyword("rule.name")), ("Path", defender_path))
WINDEFEND: dict[int, EventSpec] = {
    **{
        eid: spec("malware", "info", "malware-detected", DEFENDER_THREAT)
        for eid in (1006, 1009, 1010, 1011, 1012, 1015, 1017, 1018, 1019, 1115, 1116)
    },
    **{eid: spec("malware", "info", "malware-action-taken", DEFENDER_THREAT) for eid in (1007, 1117)},
    **{eid: spec("malware", "info", "malware-action-failed", DEFENDER_THREAT) for eid in (1008, 1118, 1119)},
}

# Channel service (canhgac.logsource.service) → its table.
EVENT_TABLES: Mapping[str, Mapping[int, EventSpec]] = {
    "security": SECURITY,
    "system": SYSTEM,
    "sysmon": SYSMON,
    "windefend": WINDEFEND,
}

_AUDIT_SUCCESS, _AUDIT_FAILURE = 0x20000000000000, 0x10000000000000


def audit_outcome(keywords: Any) -> str | None:
    """Security's audit keywords in any shipper's spelling: Winlogbeat's ["Audit Success"],
    evtx_dump's "0x8020000000000000", NXLog's signed decimal "-9214364837600034816"."""
    if isinstance(keywords, list):
        for word in keywords:
            if word == "Audit Success":
                return "success"
            if word == "Audit Failure":
                return "failure"
        return None
    if isinstance(keywords, str):
        try:
            mask = int(keywords, 16) if keywords[:2] in ("0x", "0X") else int(keywords)
        except ValueError:
            return None
    elif isinstance(keywords, int) and not isinstance(keywords, bool):
        mask = keywords
    else:
        return None
    mask &= 0xFFFFFFFFFFFFFFFF
    if mask & _AUDIT_FAILURE:
        return "failure"
    if mask & _AUDIT_SUCCESS:
        return "success"
    return None


def apply_ecs(event: Event, service: str | None, event_id: int | None, winlog: Mapping[str, Any]) -> None:
    """Fill ECS fields of a Windows event from its table entry; events without one are left as they are."""
    if service is None or event_id is None:
        return
    table = EVENT_TABLES.get(service)
    entry = table.get(event_id) if table is not None else None
    if entry is None:
        return
    node = event.setdefault("event", {})
    node["category"] = list(entry.category)
    node["type"] = list(entry.type)
    node["action"] = entry.action
    outcome = entry.outcome or (audit_outcome(winlog.get("keywords")) if service == "security" else None)
    if outcome is not None:
        node.setdefault("outcome", outcome)
    data = winlog.get("event_data")
    if not isinstance(data, dict) or not data:
        return
    for name, write in entry.fields:
        value = data.get(name)
        if value is not None:
            write(event, value)


def native_tables() -> list[tuple[Any, ...]]:
    """EVENT_TABLES for the native mapping: (service, event id, categories, types, action,
    outcome, [(event-data name, writer kind, dotted path, writer)]) per entry."""
    return [
        (
            service,
            event_id,
            entry.category,
            entry.type,
            entry.action,
            entry.outcome,
            [(name, *WRITER_KINDS.get(write, ("python", "")), write) for name, write in entry.fields],
        )
        for service, table in EVENT_TABLES.items()
        for event_id, entry in table.items()
    ]
