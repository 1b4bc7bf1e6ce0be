"""pfSense (and OPNsense) `filterlog`: one CSV line per packet decision, pfSense 2.2+ layout.

Layout: rule, sub-rule, anchor, tracker, interface, reason, action, direction, IP version, then
the IPv4 (tos, ecn, ttl, id, offset, flags, proto id, proto, length, src, dst) or IPv6 (class,
flow label, hop limit, proto, proto id, length, src, dst) header, then the protocol's own fields.
"""

from __future__ import annotations

from typing import Any, ClassVar

from canhgac.core.envelope import RawEnvelope
from canhgac.core.errors import ParseError
from canhgac.core.event import Event
from canhgac.pipeline.normalize.base import parsers
from canhgac.pipeline.normalize.fieldvalues import add_related, int_or_none, ip_or_none, put_endpoint
from canhgac.pipeline.normalize.syslog import (
    SyslogMessage,
    SyslogParser,
    base_event,
    message_text,
    program_key,
)
from canhgac.pipeline.normalize.syslog_extensions import body_formats

DATASET = "pfsense"
_ACTION_TYPE = {"pass": "allowed", "block": "denied", "reject": "denied"}


def _proto_fields(event: Event, proto: str, rest: list[str], details: dict[str, Any]) -> None:
    if proto in ("tcp", "udp") and len(rest) >= 2:
        for side, value in (("source", rest[0]), ("destination", rest[1])):
            port = int_or_none(value)
            if port is not None and side in event:
                event[side]["port"] = port
        if len(rest) > 2 and (length := int_or_none(rest[2])) is not None:
            details["data_length"] = length
        if proto == "tcp" and len(rest) > 3 and rest[3]:
            details["tcp_flags"] = rest[3]
    elif proto in ("icmp", "ipv6-icmp") and rest:
        details["icmp_type"] = rest[0]


def apply_filterlog(event: Event, text: str) -> None:
    f = text.strip().split(",")
    if len(f) < 9 or not f[3]:
        raise ParseError("filterlog line has too few fields")
    version = f[8]
    if version == "4":
        if len(f) < 20:
            raise ParseError("filterlog IPv4 line has too few fields")
        proto_id, proto, length, src, dst, rest = f[15], f[16], f[17], f[18], f[19], f[20:]
        ttl = f[11]
    elif version == "6":
        if len(f) < 17:
            raise ParseError("filterlog IPv6 line has too few fields")
        proto, proto_id, length, src, dst, rest = f[12], f[13], f[14], f[15], f[16], f[17:]
        ttl = f[11]
    else:
        raise ParseError(f"filterlog IP version {version!r} is neither 4 nor 6")
    if ip_or_none(src) is None or ip_or_none(dst) is None:
        raise ParseError("filterlog addresses are not IP addresses")
    rule, _sub, _anchor, tracker, interface, reason, action, direction = f[:8]
    put_endpoint(event, "source", src)
    put_endpoint(event, "destination", dst)
    add_related(event, "ip", event["source"]["ip"])
    add_related(event, "ip", event["destination"]["ip"])
    proto = proto.lower()
    details: dict[str, Any] = {"reason": reason, "rule_number": rule}
    if (hops := int_or_none(ttl)) is not None:
        details["ttl"] = hops
    _proto_fields(event, proto, rest, details)
    network: dict[str, Any] = {"type": "ipv4" if version == "4" else "ipv6", "transport": proto}
    if proto_id:
        network["iana_number"] = proto_id
    if (size := int_or_none(length)) is not None:
        network["bytes"] = size
    if direction in ("in", "out"):
        network["direction"] = "inbound" if direction == "in" else "outbound"
    event["network"] = network
    observer: dict[str, Any] = {"vendor": "Netgate", "product": "pfSense", "type": "firewall"}
    interface_node = {"interface": {"name": interface}}
    observer["ingress" if direction == "in" else "egress"] = interface_node
    if event.get("host", {}).get("hostname"):
        observer["name"] = event["host"]["hostname"]
    event["observer"] = observer
    event["rule"] = {"id": tracker, "name": tracker}
    ev = event["event"]
    ev["action"] = action
    ev["category"] = ["network"]
    ev["type"] = ["connection", _ACTION_TYPE.get(action, "info")]
    ev["outcome"] = "success" if action == "pass" else "failure"
    event["pfsense"] = {"filter": details}
    event["canhgac"]["dataset"] = DATASET
    event["canhgac"]["logsource"] = {"product": "pfsense", "category": "firewall"}


class FilterlogBody:
    name: ClassVar[str] = "pfsense-filterlog"

    def detect(self, msg: SyslogMessage) -> bool:
        return program_key(msg.app_name) == "filterlog"

    def apply(self, event: Event, msg: SyslogMessage) -> None:
        apply_filterlog(event, msg.message)


_BODY = FilterlogBody()
body_formats.register("pfsense-filterlog")(_BODY)


@parsers.register("pfsense")
class PfsenseParser:
    name: ClassVar[str] = "pfsense"

    def __init__(self, default_tz: str = "Asia/Ho_Chi_Minh") -> None:
        self._syslog = SyslogParser(default_tz)

    def parse(self, raw: RawEnvelope) -> Event:
        text = message_text(raw)
        if text[:1].isdigit() and "," in text[:12]:  # the bare CSV, e.g. from a file
            event: Event = {"message": text, "event": {"kind": "event"}, "canhgac": {}}
            apply_filterlog(event, text)
            return event
        msg = self._syslog.header(raw, text)
        if msg.rfc == "none":
            raise ParseError("neither a filterlog CSV line nor syslog")
        if _BODY.detect(msg):
            event = base_event(msg, DATASET)
            _BODY.apply(event, msg)
            return event
        # pfSense's other programs (web configurator logins, openvpn, dhcpd …): kept as syslog.
        event = self._syslog.parse(raw)
        event["canhgac"]["dataset"] = DATASET
        event["canhgac"]["logsource"] = {"product": "pfsense"}
        event["observer"] = {"vendor": "Netgate", "product": "pfSense", "type": "firewall"}
        return event
