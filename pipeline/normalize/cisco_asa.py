"""Cisco ASA (and FTD's ASA-engine) syslog: `%ASA-<level>-<id>: <text>`.

The common message ids are parsed into ECS; any other id still gets event.code, log.level and
the observer, with its text as the message. ASA's "Built outbound" names the outside host first,
so for outbound connections the second endpoint is the source (the initiator).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar

from canhgac.core.envelope import RawEnvelope
from canhgac.core.errors import ParseError
from canhgac.core.event import Event
from canhgac.pipeline.normalize.base import parsers
from canhgac.pipeline.normalize.fieldvalues import add_related, int_or_none, ip_or_none, put_endpoint
from canhgac.pipeline.normalize.syslog import SyslogMessage, SyslogParser
from canhgac.pipeline.normalize.syslog_extensions import body_formats

DATASET = "cisco.asa"
_HEADER_RE = re.compile(r"%(ASA|FTD|FWSM|PIX)-(\d)-(\d{6}): ?")
_LEVELS = ("emergency", "alert", "critical", "error", "warning", "notification", "informational", "debugging")
# interface:address/port. Interface names hold no ':', so the split is decided at the first one
# (IPv6 addresses hold several); a lazy interface pattern backtracked for seconds on junk.
_EP = r"([^\s:]+):([^\s/]+)/(\d+)"
_ICMP_EP = r"([^\s:]+):([^\s/]+)(?:/(\d+))?"

_106023_RE = re.compile(
    r"Deny (\S+) src "
    + _ICMP_EP
    + r" dst "
    + _ICMP_EP
    + r" (?:\(type (\d+), code (\d+)\) )?by access-group \"([^\"]*)\""
)
_106_FROM_TO_RE = re.compile(
    r"(?:Deny|Inbound|Outbound) ?(inbound|outbound)? ?(\w+)? .*?from ([^\s/]+)/(\d+) to ([^\s/]+)/(\d+)"
    r"(?:.*? on interface (\S+))?"
)
_106100_RE = re.compile(
    r"access-list (\S+) (permitted|denied|est-allowed) (\w+) "
    r"([^\s/]+)/([^\s(]+)\((\d+)\)[^>]*-> ([^\s/]+)/([^\s(]+)\((\d+)\)"
)
_BUILT_RE = re.compile(
    r"Built (inbound|outbound) (\w+) connection (\d+) for "
    + _EP + r" \(([^/\s]+)/(\d+)\)(?: \(([^)]*)\))? to "
    + _EP + r" \(([^/\s]+)/(\d+)\)"
)  # fmt: skip
_TEARDOWN_RE = re.compile(
    r"Teardown (\w+) connection (\d+) for " + _EP + r" to " + _EP
    + r"(?: duration (\d+):(\d{2}):(\d{2}))?(?: bytes (\d+))?(?: (.*))?"
)  # fmt: skip
_AAA_RE = re.compile(r"AAA user (authentication|authorization) (Successful|Rejected)\s*:(.*)")
_LOGIN_RE = re.compile(
    r"Login (permitted|denied) from ([^\s/]+)/(\d+) to ([^\s:]+):([^\s/]+)/(\w+) for user \"([^\"]*)\""
)
_CMD_RE = re.compile(r"User '([^']*)'(?:, running '[^']*' from IP (\S+),)? executed (?:the )?'([^']*)'")
_VPN_RE = re.compile(r"Group <([^>]*)> User <([^>]*)> IP <([^>]*)> (.*)")
_611_RE = re.compile(r"User authentication (succeeded|failed): IP address: ([^,\s]+), Uname: (\S+)")
_710_RE = re.compile(
    r"(\w+) (?:access|request) (permitted|denied)(?: by ACL)? "
    r"from ([^\s/]+)/(\d+) to ([^\s:]+):([^\s/]+)/(\d+)"
)


def _mark(event: Event, action: str, category: str, types: list[str], outcome: str | None) -> None:
    ev = event["event"]
    ev["action"], ev["category"], ev["type"] = action, [category], types
    if outcome:
        ev["outcome"] = outcome


def _endpoints(event: Event, src: tuple[Any, ...], dst: tuple[Any, ...]) -> None:
    """src/dst = (interface, address, port); interfaces go to observer ingress/egress."""
    put_endpoint(event, "source", src[1], src[2])
    put_endpoint(event, "destination", dst[1], dst[2])
    for side in ("source", "destination"):
        add_related(event, "ip", event.get(side, {}).get("ip"))
    observer = event["observer"]
    if src[0]:
        observer["ingress"] = {"interface": {"name": src[0]}}
    if dst[0]:
        observer["egress"] = {"interface": {"name": dst[0]}}


def _user(event: Event, name: str | None) -> None:
    if name and name not in ("-", "LOCAL\\-"):
        event["user"] = {"name": name}
        add_related(event, "user", name)


def _deny_acl(event: Event, text: str, asa: dict[str, Any]) -> None:
    m = _106023_RE.match(text)
    if m is None:
        return
    proto, si, sa, sp, di, da, dp, icmp_type, icmp_code, acl = m.groups()
    _endpoints(event, (si, sa, sp), (di, da, dp))
    event["network"] = {"transport": proto.lower()}
    if icmp_type:
        asa["icmp_type"], asa["icmp_code"] = int(icmp_type), int(icmp_code)
    event["rule"] = {"name": acl}
    _mark(event, "firewall-rule", "network", ["connection", "denied"], "failure")


def _deny_generic(event: Event, text: str, asa: dict[str, Any]) -> None:
    m = _106_FROM_TO_RE.match(text)
    if m is None:
        return
    direction, proto, sa, sp, da, dp, iface = m.groups()
    _endpoints(event, (iface, sa, sp), (None, da, dp))
    if proto:
        event["network"] = {"transport": proto.lower()}
    if direction:
        event.setdefault("network", {})["direction"] = direction
    _mark(event, "firewall-rule", "network", ["connection", "denied"], "failure")


def _acl_log(event: Event, text: str, asa: dict[str, Any]) -> None:
    m = _106100_RE.match(text)
    if m is None:
        return
    acl, verdict, proto, si, sa, sp, di, da, dp = m.groups()
    _endpoints(event, (si, sa, sp), (di, da, dp))
    event["network"] = {"transport": proto.lower()}
    event["rule"] = {"name": acl}
    denied = verdict == "denied"
    _mark(event, "firewall-rule", "network", ["connection", "denied" if denied else "allowed"],
          "failure" if denied else "success")  # fmt: skip


def _built(event: Event, text: str, asa: dict[str, Any]) -> None:
    m = _BUILT_RE.match(text)
    if m is None:
        return
    g = m.groups()
    direction, proto, conn = g[0], g[1], g[2]
    first, second = (g[3], g[4], g[5]), (g[9], g[10], g[11])
    src, dst = (first, second) if direction == "inbound" else (second, first)
    _endpoints(event, src, dst)
    mapped_first, mapped_second = (g[6], g[7]), (g[12], g[13])
    src_nat, dst_nat = (mapped_first, mapped_second) if direction == "inbound" else (mapped_second, mapped_first)
    for side, (addr, port) in (("source", src_nat), ("destination", dst_nat)):
        nat_ip = ip_or_none(addr)
        if side in event and nat_ip is not None and addr != event[side].get("address"):
            event[side]["nat"] = {"ip": nat_ip, "port": int(port)}
    _user(event, g[8])
    event["network"] = {"transport": proto.lower(), "direction": direction}
    asa["connection_id"] = conn
    _mark(event, "flow-creation", "network", ["connection", "start"], "success")


def _teardown(event: Event, text: str, asa: dict[str, Any]) -> None:
    m = _TEARDOWN_RE.match(text)
    if m is None:
        return
    proto, conn, si, sa, sp, di, da, dp, hh, mm, ss, nbytes, reason = m.groups()
    _endpoints(event, (si, sa, sp), (di, da, dp))
    event["network"] = {"transport": proto.lower()}
    if (total := int_or_none(nbytes)) is not None:
        event["network"]["bytes"] = total
    if hh is not None:
        event["event"]["duration"] = (int(hh) * 3600 + int(mm) * 60 + int(ss)) * 1_000_000_000
    if reason:
        event["event"]["reason"] = reason.strip()
    asa["connection_id"] = conn
    _mark(event, "flow-expiration", "network", ["connection", "end"], None)


def _aaa(event: Event, text: str, asa: dict[str, Any]) -> None:
    m = _AAA_RE.match(text)
    if m is None:
        return
    kind, verdict, rest = m.groups()
    kv = {}
    for part in rest.split(":"):
        key, sep, value = part.partition(" = ")
        if sep:
            kv[key.strip().lower()] = value.strip()
    _user(event, kv.get("user"))
    put_endpoint(event, "source", kv.get("user ip"))
    add_related(event, "ip", event.get("source", {}).get("ip"))
    if kv.get("server"):
        put_endpoint(event, "server", kv["server"])
    if kv.get("reason"):
        event["event"]["reason"] = kv["reason"]
    ok = verdict == "Successful"
    _mark(event, f"aaa-{kind}", "authentication", ["start" if ok else "info"], "success" if ok else "failure")


def _login(event: Event, text: str, asa: dict[str, Any]) -> None:
    m = _LOGIN_RE.match(text)
    if m is None:
        return
    verdict, sa, sp, iface, da, service, user = m.groups()
    _endpoints(event, (None, sa, sp), (iface, da, None))
    event.setdefault("network", {})["protocol"] = service.lower()
    _user(event, user)
    ok = verdict == "permitted"
    _mark(event, "login", "authentication", ["start" if ok else "info"], "success" if ok else "failure")


def _command(event: Event, text: str, asa: dict[str, Any]) -> None:
    m = _CMD_RE.match(text)
    if m is None:
        return
    user, address, command = m.groups()
    _user(event, user)
    put_endpoint(event, "source", address)
    asa["command_line"] = command
    _mark(event, "command-executed", "configuration", ["change"], "success")


def _webvpn(event: Event, text: str, asa: dict[str, Any]) -> None:
    m = _VPN_RE.match(text)
    if m is None:
        return
    group, user, address, rest = m.groups()
    _user(event, user)
    put_endpoint(event, "source", address)
    add_related(event, "ip", event.get("source", {}).get("ip"))
    asa["group"] = group
    if "started" in rest:
        _mark(event, "vpn-session-started", "session", ["start"], "success")
    elif "terminated" in rest:
        _mark(event, "vpn-session-terminated", "session", ["end"], None)
    else:
        _mark(event, "vpn-session", "session", ["info"], None)


def _local_auth(event: Event, text: str, asa: dict[str, Any]) -> None:
    m = _611_RE.match(text)
    if m is None:
        return
    verdict, address, user = m.groups()
    _user(event, user)
    put_endpoint(event, "source", address)
    ok = verdict == "succeeded"
    _mark(
        event,
        "user-authentication",
        "authentication",
        ["start" if ok else "info"],
        "success" if ok else "failure",
    )


def _mgmt_access(event: Event, text: str, asa: dict[str, Any]) -> None:
    m = _710_RE.match(text)
    if m is None:
        return
    proto, verdict, sa, sp, iface, da, dp = m.groups()
    _endpoints(event, (None, sa, sp), (iface, da, dp))
    event["network"] = {"transport": proto.lower()}
    denied = verdict == "denied"
    _mark(event, "management-access", "network", ["connection", "denied" if denied else "allowed"],
          "failure" if denied else "success")  # fmt: skip


_HANDLERS: dict[str, Callable[[Event, str, dict[str, Any]], None]] = {
    "106023": _deny_acl,
    "106001": _deny_generic, "106006": _deny_generic, "106007": _deny_generic, "106015": _deny_generic,
    "106100": _acl_log,
    "302013": _built, "302015": _built, "302020": _built,
    "302014": _teardown, "302016": _teardown, "302021": _teardown,
    "113004": _aaa, "113005": _aaa,
    "605004": _login, "605005": _login,
    "111008": _command, "111010": _command,
    "716001": _webvpn, "716002": _webvpn, "722051": _webvpn,
    "611101": _local_auth, "611102": _local_auth,
    "710003": _mgmt_access, "710002": _mgmt_access, "710005": _mgmt_access,
}  # fmt: skip


def apply_asa(event: Event, text: str) -> None:
    m = _HEADER_RE.search(text, 0, 200)
    if m is None:
        raise ParseError("no '%ASA-<level>-<id>:' tag")
    product, level, msg_id = m.groups()
    body = text[m.end() :]
    event["message"] = body
    event["observer"] = {"vendor": "Cisco", "product": product, "type": "firewall"}
    if event.get("host", {}).get("hostname"):
        event["observer"]["name"] = event["host"]["hostname"]
    event.setdefault("log", {})["level"] = _LEVELS[int(level)]
    ev = event["event"]
    ev["code"] = msg_id
    asa: dict[str, Any] = {"message_id": msg_id}
    handler = _HANDLERS.get(msg_id)
    if handler is not None:
        handler(event, body, asa)
    event["cisco"] = {"asa": asa}
    event["canhgac"]["dataset"] = DATASET
    event["canhgac"]["logsource"] = {"product": "cisco", "category": "firewall", "service": "asa"}


class AsaBody:
    name: ClassVar[str] = "cisco-asa"

    def detect(self, msg: SyslogMessage) -> bool:
        head = msg.message[:80]
        return "%ASA-" in head or "%FTD-" in head or "%FWSM-" in head or "%PIX-" in head

    def apply(self, event: Event, msg: SyslogMessage) -> None:
        apply_asa(event, msg.message)


_BODY = AsaBody()
body_formats.register("cisco-asa")(_BODY)


@parsers.register("cisco-asa")
class CiscoAsaParser:
    name: ClassVar[str] = "cisco-asa"

    def __init__(self, default_tz: str = "Asia/Ho_Chi_Minh") -> None:
        self._syslog = SyslogParser(default_tz)

    def parse(self, raw: RawEnvelope) -> Event:
        return self._syslog.parse_as(raw, _BODY)
