"""Text from logs turned into values that ECS field types accept.

OpenSearch refuses a whole document when one `ip` or `long` field holds junk, so every parser
checks those values here and leaves a field out rather than writing something the index rejects.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

from canhgac.core.event import Event, set_path

_MAX_LONG = 2**63 - 1


def ip_or_none(text: str | None) -> str | None:
    """A normalized IP address (zone index and IPv6 brackets removed), or None."""
    if not text or len(text) > 64:
        return None
    return _checked_ip(text)


# The same few thousand addresses fill a site's logs; parsing each once saves a third of the time
# of a firewall record. Bounded, so hostile input only costs misses.
@lru_cache(maxsize=16384)
def _checked_ip(text: str) -> str | None:
    if text[0] == "[" and text[-1] == "]":
        text = text[1:-1]
    text = text.split("%", 1)[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def int_or_none(text: Any) -> int | None:
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text if -_MAX_LONG <= text <= _MAX_LONG else None
    if not isinstance(text, str) or not text or len(text) > 19:
        return None
    body = text[1:] if text[0] in "+-" else text
    if not body.isascii() or not body.isdigit():
        return None
    return int(text)


def port_or_none(text: Any) -> int | None:
    port = int_or_none(text)
    return port if port is not None and 0 <= port <= 65535 else None


def put_endpoint(event: Event, side: str, address: str | None, port: Any = None) -> None:
    """`source`/`destination`/`client`/`server`: ip when the address is one, else domain."""
    if not address and port is None:
        return
    node: dict[str, Any] = event.setdefault(side, {})
    if address and address != "-":
        ip = ip_or_none(address)
        node["address"] = address
        if ip is not None:
            node["ip"] = ip
        else:
            node["domain"] = address
    number = port_or_none(port)
    if number is not None:
        node["port"] = number
    if not node:
        del event[side]


def add_related(event: Event, kind: str, value: str | None) -> None:
    """related.ip / related.user / related.hosts, without duplicates."""
    if not value:
        return
    values: list[str] = event.setdefault("related", {}).setdefault(kind, [])
    if value not in values:
        values.append(value)


def put_typed(event: Event, dotted: str, value: Any, kind: str) -> None:
    """Set a dotted ECS field when `value` fits its type: "ip", "port", "long" or "keyword"."""
    if value is None or value == "":
        return
    if kind == "ip":
        value = ip_or_none(value if isinstance(value, str) else None)
    elif kind == "port":
        value = port_or_none(value)
    elif kind == "long":
        value = int_or_none(value)
    elif not isinstance(value, str):
        value = str(value)
    if value is None:
        return
    set_path(event, dotted, value)
