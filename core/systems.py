"""Information systems (hệ thống thông tin): what a log belongs to, and the alert priority it gives.

A system has an owner agency, a security level 1–5 (cấp độ, Decree 85/2016 and Circular 12/2022),
a criticality, the hosts and sources that belong to it, and contacts. The API keeps the inventory
in `<config_index_prefix>-systems`; the alert indexer reads it to place each new alert.

**Alert priority** (stored on the alert as `priority`, the queue sorts by it):

    priority = rule weight × system level × indicator confidence

- rule weight: informational 1, low 2, medium 3, high 4, critical 5 (the rule's level);
- system level: the security level (1–5) of the system the alert's host or source belongs to in
  the alert's agency; `DEFAULT_SYSTEM_LEVEL` (3) when it belongs to none, so an asset missing from
  the inventory is neither buried under a test VM nor raised above a level-4 system;
- indicator confidence: a threat-intel alert's indicator confidence as a fraction (0–100 → 0–1);
  1 when the alert has no indicator or the feed gives no confidence.

So priority runs from 0 to 25: a critical rule on a level-5 system is 25, a high one on a level-4
system 16, a medium one on an uninventoried host 9, a low one on a level-1 system 2. A host match
wins over a source match (one server behind a shared relay may belong to another system).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, Final, Literal

from canhgac.core.alert import Severity, severity_of
from canhgac.core.config import OpenSearchConfig
from pydantic import BaseModel, ConfigDict, Field

DEFAULT_SYSTEM_LEVEL: Final = 3
RULE_WEIGHTS: Final[Mapping[Severity, int]] = {
    Severity.INFORMATIONAL: 1,
    Severity.LOW: 2,
    Severity.MEDIUM: 3,
    Severity.HIGH: 4,
    Severity.CRITICAL: 5,
}
SecurityLevel = Literal[1, 2, 3, 4, 5]


def systems_index(cfg: OpenSearchConfig) -> str:
    return f"{cfg.config_index_prefix}-systems"


class Criticality(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    VITAL = "vital"


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=128)
    role: str | None = Field(default=None, max_length=128)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, max_length=32, pattern=r"^[0-9+() .-]+$")


class SystemRef(BaseModel):
    """What an alert records of its system."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    security_level: int


def alert_priority(rule_level: object, system_level: int | None, indicator_confidence: int | None) -> float:
    weight = RULE_WEIGHTS[severity_of(rule_level)]
    level = system_level if system_level is not None else DEFAULT_SYSTEM_LEVEL
    confidence = 1.0 if indicator_confidence is None else max(0, min(100, indicator_confidence)) / 100
    return round(weight * level * confidence, 2)


class Inventory:
    """The systems as looked up for alerts: by (agency, host) first, then (agency, source id).
    Host names compare case-insensitively; a host may also be listed by its IP address."""

    def __init__(self, systems: Iterable[Mapping[str, Any]]) -> None:
        self.by_host: dict[tuple[str, str], SystemRef] = {}
        self.by_source: dict[tuple[str, str], SystemRef] = {}
        for doc in sorted(systems, key=lambda d: str(d.get("id"))):  # the same winner on every replica
            ref = SystemRef(
                id=str(doc["id"]), name=str(doc.get("name") or doc["id"]), security_level=int(doc["security_level"])
            )
            agency = str(doc.get("agency"))
            for host in doc.get("hosts") or ():
                self.by_host.setdefault((agency, str(host).lower()), ref)
            for source in doc.get("sources") or ():
                self.by_source.setdefault((agency, str(source)), ref)

    def system_of(self, agency: str | None, hosts: Iterable[str | None], source_id: str | None) -> SystemRef | None:
        if not agency:
            return None
        for host in hosts:
            if host and (found := self.by_host.get((agency, host.lower()))):
                return found
        if source_id:
            return self.by_source.get((agency, source_id))
        return None


def place_alert(alert: dict[str, Any], inventory: Inventory) -> None:
    """Set `system` and `priority` on a new alert document (from its agency, host, source and
    indicator)."""
    event = alert.get("event") if isinstance(alert.get("event"), dict) else {}
    host_ip = (event or {}).get("host", {}).get("ip") if isinstance((event or {}).get("host"), dict) else None
    hosts = [alert.get("host", {}).get("name"), *(host_ip if isinstance(host_ip, list) else [host_ip])]
    source_id = (alert.get("canhgac") or {}).get("source_id")
    system = inventory.system_of(alert.get("agency"), [h if isinstance(h, str) else None for h in hosts], source_id)
    indicator = alert.get("indicator") if isinstance(alert.get("indicator"), dict) else None
    confidence = indicator.get("confidence") if indicator else None
    alert["system"] = system.model_dump() if system else None
    alert["priority"] = alert_priority(
        (alert.get("rule") or {}).get("level"),
        system.security_level if system else None,
        confidence if isinstance(confidence, int) else None,
    )
