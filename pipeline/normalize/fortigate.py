"""FortiGate (FortiOS) key=value logs: traffic, event (system, VPN, user) and UTM records.

Every key is kept verbatim under `fortinet.firewall.<key>` (as Filebeat does): SigmaHQ's
FortiGate rules test FortiOS's own names (`action`, `cfgpath`). Logsource: product fortigate,
category firewall, and service = the log `type` (traffic, event, utm), so both the generic
firewall rules and the `service: event` ones find these events.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, ClassVar

from canhgac.core.envelope import RawEnvelope
from canhgac.core.errors import ParseError
from canhgac.core.event import Event
from canhgac.pipeline.normalize.base import parsers
from canhgac.pipeline.normalize.fieldvalues import add_related, int_or_none, ip_or_none, put_endpoint
from canhgac.pipeline.normalize.syslog import SyslogMessage, SyslogParser
from canhgac.pipeline.normalize.syslog_extensions import body_formats
from canhgac.pipeline.normalize.timestamps import DEFAULT_TZ_NAME, to_utc_iso, zone

DATASET = "fortigate"
_KV_RE = re.compile(r'([\w-]+)=("(?:[^"\\]|\\.)*"|\S*)')
_TZ_RE = re.compile(r"([+-])(\d{2}):?(\d{2})\Z")
IANA_PROTOCOLS = {
    "1": "icmp",
    "6": "tcp",
    "17": "udp",
    "47": "gre",
    "50": "esp",
    "58": "ipv6-icmp",
    "132": "sctp",
}
_DENY = frozenset(
    {"deny", "denied", "block", "blocked", "drop", "dropped", "reset", "close-reset", "server-rst",
     "client-rst", "timeout", "reject"}
)  # fmt: skip
_ALLOW = frozenset({"accept", "allow", "allowed", "pass", "passthrough", "permit", "close", "start", "ip-conn"})
_UTM_CATEGORY = {
    "virus": "malware", "ips": "intrusion_detection", "anomaly": "intrusion_detection",
    "webfilter": "web", "app-ctrl": "network", "dns": "network", "emailfilter": "email",
}  # fmt: skip


def parse_kv(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in _KV_RE.findall(text):
        if value[:1] == '"':
            value = value[1:-1]
            if "\\" in value:
                value = value.replace('\\"', '"').replace("\\\\", "\\")
        out[key] = value
    return out


def _timestamp(kv: dict[str, str], fallback: datetime | None, local: tzinfo) -> datetime | None:
    epoch = int_or_none(kv.get("eventtime"))
    if epoch is not None and epoch > 0:
        # FortiOS 6.2 writes seconds, 6.4+ nanoseconds (some builds microseconds).
        while epoch > 10**11:
            epoch //= 1000
        try:
            return datetime.fromtimestamp(epoch, UTC)
        except (OverflowError, OSError, ValueError):
            pass
    date, time = kv.get("date"), kv.get("time")
    if date and time:
        tz = local
        m = _TZ_RE.match(kv.get("tz", ""))
        if m is not None:
            minutes = int(m.group(2)) * 60 + int(m.group(3))
            tz = timezone(timedelta(minutes=-minutes if m.group(1) == "-" else minutes))
        try:
            ts = datetime.fromisoformat(f"{date}T{time}")
        except ValueError:
            return fallback
        return ts.replace(tzinfo=tz) if ts.tzinfo is None else ts
    return fallback


def apply_fortigate(event: Event, text: str, header_time: datetime | None, local: tzinfo) -> None:
    kv = parse_kv(text)
    if "logid" not in kv and "devname" not in kv:
        raise ParseError("no FortiGate logid/devname field")
    ts = _timestamp(kv, header_time, local)
    if ts is not None:
        event["@timestamp"] = to_utc_iso(ts)
    log_type, subtype, action = kv.get("type", ""), kv.get("subtype", ""), kv.get("action", "")
    observer: dict[str, Any] = {"vendor": "Fortinet", "product": "FortiGate", "type": "firewall"}
    if "devname" in kv:
        observer["name"] = kv["devname"]
    if "devid" in kv:
        observer["serial_number"] = kv["devid"]
    if kv.get("srcintf"):
        observer["ingress"] = {"interface": {"name": kv["srcintf"]}}
    if kv.get("dstintf"):
        observer["egress"] = {"interface": {"name": kv["dstintf"]}}
    event["observer"] = observer
    # remip: the remote peer of VPN events, which carry no srcip.
    put_endpoint(event, "source", kv.get("srcip") or kv.get("remip"), kv.get("srcport"))
    put_endpoint(event, "destination", kv.get("dstip"), kv.get("dstport"))
    for side, addr_key, port_key in (
        ("source", "transip", "transport"),
        ("destination", "tranip", "tranport"),
    ):
        nat_ip = ip_or_none(kv.get(addr_key))
        if nat_ip is not None and side in event:
            nat: dict[str, Any] = {"ip": nat_ip}
            if (port := int_or_none(kv.get(port_key))) is not None and port > 0:
                nat["port"] = port
            event[side]["nat"] = nat
    for side, byte_key, pkt_key in (
        ("source", "sentbyte", "sentpkt"),
        ("destination", "rcvdbyte", "rcvdpkt"),
    ):
        if side in event:
            if (b := int_or_none(kv.get(byte_key))) is not None:
                event[side]["bytes"] = b
            if (p := int_or_none(kv.get(pkt_key))) is not None:
                event[side]["packets"] = p
    for key in ("srcip", "dstip"):
        add_related(event, "ip", event.get("source" if key == "srcip" else "destination", {}).get("ip"))
    proto = kv.get("proto")
    if proto:
        network: dict[str, Any] = {"iana_number": proto}
        if proto in IANA_PROTOCOLS:
            network["transport"] = IANA_PROTOCOLS[proto]
        event["network"] = network
    if kv.get("service"):
        event.setdefault("network", {})["protocol"] = kv["service"].lower()
    user = kv.get("user") or kv.get("srcuser") or kv.get("unauthuser")
    if user:
        event["user"] = {"name": user}
        add_related(event, "user", user)
    if kv.get("policyid"):
        event["rule"] = {"id": kv["policyid"]}
        if kv.get("policyname"):
            event["rule"]["name"] = kv["policyname"]
        if kv.get("policytype"):
            event["rule"]["ruleset"] = kv["policytype"]
    elif kv.get("attack"):
        event["rule"] = {"name": kv["attack"]}
    if kv.get("msg"):
        event["message"] = kv["msg"]
    ev = event["event"]
    if action:
        ev["action"] = action
    if kv.get("logid"):
        ev["code"] = kv["logid"]
    if log_type == "traffic":
        ev["category"] = ["network"]
        ev["type"] = ["connection", "denied" if action in _DENY else "allowed" if action else "info"]
    elif log_type == "utm":
        category = _UTM_CATEGORY.get(subtype, "network")
        ev["category"] = [category]
        # ECS allows "denied" only for some categories (not malware, web or email).
        denied = action in _DENY and category in ("network", "intrusion_detection")
        ev["type"] = ["denied"] if denied else ["info"]
        if subtype in ("virus", "ips", "anomaly"):
            ev["kind"] = "alert"
    elif log_type == "event":
        if action in ("login", "logout") or "login" in kv.get("logdesc", "").lower():
            ev["category"] = ["authentication"]
            failed = kv.get("status", "") in ("failed", "failure", "fail")
            ev["type"] = ["end"] if action == "logout" else ["start"] if action == "login" and not failed else ["info"]
        elif kv.get("cfgpath"):
            ev["category"] = ["configuration"]
            ev["type"] = ["change"]
        else:
            ev["type"] = ["info"]
    status = kv.get("status", "")
    if action in _DENY or status in ("failed", "failure", "fail"):
        ev["outcome"] = "failure"
    elif action in _ALLOW or status == "success":
        ev["outcome"] = "success"
    event["fortinet"] = {"firewall": kv}
    event["canhgac"]["dataset"] = DATASET
    logsource = {"product": "fortigate", "category": "firewall"}
    if log_type:
        logsource["service"] = log_type
    event["canhgac"]["logsource"] = logsource


class FortigateBody:
    name: ClassVar[str] = "fortigate"

    def detect(self, msg: SyslogMessage) -> bool:
        head = msg.message[:300]
        return ("logid=" in head or "devname=" in head) and ("date=" in head or "devid=" in head)

    def apply(self, event: Event, msg: SyslogMessage) -> None:
        apply_fortigate(event, msg.message, msg.timestamp, msg.tz or zone(DEFAULT_TZ_NAME))


_BODY = FortigateBody()
body_formats.register("fortigate")(_BODY)


@parsers.register("fortigate")
class FortigateParser:
    name: ClassVar[str] = "fortigate"

    def __init__(self, default_tz: str = "Asia/Ho_Chi_Minh") -> None:
        self._syslog = SyslogParser(default_tz)

    def parse(self, raw: RawEnvelope) -> Event:
        return self._syslog.parse_as(raw, _BODY)
