"""Retro-hunts over stored events, the pure part: the OpenSearch query that finds the events which
may carry some of a set of indicators, and the identity of the alert a stored event raises.

The query is a pre-filter: every hit is checked again by the stream's own matcher
(canhgac.rules.intel.matcher), so a retro-hunt answers what the stream would have answered
(normalisation, subdomains, tenancy and expiry included). It asks, per indicator kind, the event
fields the matcher looks at (`FIELDS_BY_KIND`), on their `.ci` sub-field where the field is a string
(stored values keep the sender's case; indicator values are lower case):

- addresses and networks: `terms` on the address fields (typed `ip` fields take CIDRs as they are);
- domains: `terms` on the name fields, and `*.<domain>` on them for subdomains;
- URLs: their host on `url.domain`, and the URL on `url.full`/`url.original` (wildcards);
- hashes, e-mail addresses: `terms`; user agents: `terms` on `user_agent.original` as stored.

Alert identity is the stream's (pipeline/alerts.py): rule id (`intel:<indicator id>` or the Sigma
rule's id) + agency + group key (host, user, source address) + 10-minute window of the event's
time. A retro-hunt therefore never raises an alert the stream already raised for the same group,
and a hunt run again finds its alerts already there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from canhgac.core.alert import alert_id
from canhgac.core.event import get_path
from canhgac.rules.intel.indicators import Indicator, IndicatorType
from canhgac.rules.intel.matcher import (
    DOMAIN_FIELDS,
    EMAIL_FIELDS,
    HASH_FIELDS,
    IP_FIELDS,
    URL_FIELDS,
    USER_AGENT_FIELDS,
)

WINDOW_SECS = 600  # the stream grouper's window (pipeline/alerts.AlertGrouper)
GROUP_FIELDS = ("host.name", "host.hostname", "user.name", "source.ip")
_IP_KINDS = (IndicatorType.IPV4, IndicatorType.IPV6, IndicatorType.CIDR)
_HASH_KINDS = (IndicatorType.MD5, IndicatorType.SHA1, IndicatorType.SHA256)


def _field(name: str, typed: frozenset[str]) -> str:
    return name if name in typed else f"{name}.ci"


def _terms(fields: Iterable[str], values: Sequence[str], typed: frozenset[str]) -> list[dict[str, Any]]:
    return [{"terms": {_field(f, typed): list(values)}} for f in fields] if values else []


def _wildcards(fields: Iterable[str], patterns: Sequence[str], typed: frozenset[str]) -> list[dict[str, Any]]:
    return [{"wildcard": {_field(f, typed): {"value": p}}} for f in fields for p in patterns]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def prefilter(indicators: Sequence[Indicator], typed_fields: Iterable[str]) -> dict[str, Any] | None:
    """A bool `should` over the event fields the matcher reads for these indicators; None when
    none of them can be asked for."""
    typed = frozenset(typed_fields)
    by_kind: dict[IndicatorType, list[str]] = {}
    for indicator in indicators:
        by_kind.setdefault(indicator.type, []).append(indicator.value)
    should: list[dict[str, Any]] = []
    addresses = [v for k in _IP_KINDS for v in by_kind.get(k, ())]
    if addresses:
        typed_ip = [f for f in IP_FIELDS if f in typed]
        should += _terms(typed_ip, addresses, typed)
        plain = [v for v in addresses if "/" not in v]  # keyword fields hold addresses, not networks
        should += _terms([f for f in IP_FIELDS if f not in typed], plain, typed)
    domains = by_kind.get(IndicatorType.DOMAIN, [])
    if domains:
        should += _terms(DOMAIN_FIELDS, domains, typed)
        should += _wildcards(DOMAIN_FIELDS, [f"*.{_escape(d)}" for d in domains], typed)
    urls = by_kind.get(IndicatorType.URL, [])
    if urls:
        hosts = sorted({u.split("/", 1)[0].rsplit(":", 1)[0] for u in urls})
        should += _terms(("url.domain",), hosts, typed)
        should += _wildcards(URL_FIELDS, [f"*{_escape(u)}*" for u in urls], typed)
    hashes = [v for k in _HASH_KINDS for v in by_kind.get(k, ())]
    should += _terms(HASH_FIELDS, hashes, typed)
    should += _terms(EMAIL_FIELDS, by_kind.get(IndicatorType.EMAIL, []), typed)
    agents = by_kind.get(IndicatorType.USER_AGENT, [])
    if agents:
        should += [{"terms": {f: agents}} for f in USER_AGENT_FIELDS]
    if not should:
        return None
    return {"bool": {"should": should, "minimum_should_match": 1}}


def event_time(event: Mapping[str, Any]) -> datetime:
    value = event.get("@timestamp")
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.now(UTC)


def group_key(event: Mapping[str, Any]) -> dict[str, str]:
    """The stream grouper's key (pipeline/alerts.group_key)."""
    key = {}
    for name in GROUP_FIELDS:
        value = get_path(event, name)
        if isinstance(value, str | int) and value != "":
            key[name] = str(value)
    return key


def agency_of(event: Mapping[str, Any]) -> str | None:
    agency = get_path(event, "canhgac.agency")
    return agency if isinstance(agency, str) and agency else None


def window_start(ts: datetime) -> int:
    return int(ts.timestamp()) // WINDOW_SECS * WINDOW_SECS


def stream_alert_id(rule_id: str, event: Mapping[str, Any]) -> tuple[str, int]:
    """(the alert id the stream gives this rule's match of this event, its window start)."""
    bucket = window_start(event_time(event))
    return alert_id(rule_id, agency_of(event), group_key(event), str(bucket)), bucket
