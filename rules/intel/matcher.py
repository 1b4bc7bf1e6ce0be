"""Indicators matched on the stream: hash lookups and per-prefix-length tables, never one rule per
indicator, so the cost per event does not grow with the number of indicators.

- Exact values (domains, URLs, hashes, e-mail addresses, user agents) sit in one dict per kind.
- Addresses and networks sit in one dict per (IP version, prefix length), keyed by the address's
  first `prefix length` bits: an address is looked up once per prefix length in use (a handful:
  /32, /24, /16 …), whatever the number of indicators.
- A domain indicator also matches its subdomains (`evil.com` matches `cdn.evil.com`): the event's
  name is looked up with each leading label removed, down to two labels.

Tenancy: an indicator of an agency matches only that agency's events; the SOC's (`agency` None)
match every agency's. Expiry is checked at match time, so an indicator stops matching the moment
it expires, whatever the reload cycle.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from canhgac.core.event import get_path
from canhgac.rules.intel.indicators import Indicator, IndicatorType, normalise_url

# Where an event carries each kind of observable (ECS). Lists (related.ip …) are walked.
IP_FIELDS = (
    "source.ip",
    "destination.ip",
    "client.ip",
    "server.ip",
    "related.ip",
    "dns.resolved_ip",
    "source.nat.ip",
    "destination.nat.ip",
)
DOMAIN_FIELDS = (
    "url.domain",
    "destination.domain",
    "server.domain",
    "client.domain",
    "dns.question.name",
    "tls.client.server_name",
    "related.hosts",
)
URL_FIELDS = ("url.full", "url.original")
HASH_FIELDS = (
    *(
        f"{parent}.hash.{kind}"
        for parent in ("file", "process", "process.parent", "dll")
        for kind in ("md5", "sha1", "sha256")
    ),
    "related.hash",
)
EMAIL_FIELDS = (
    "email.from.address",
    "email.to.address",
    "email.sender.address",
    "email.reply_to.address",
    "user.email",
    "source.user.email",
    "destination.user.email",
)
USER_AGENT_FIELDS = ("user_agent.original",)

Entry = Indicator | tuple[Indicator, ...]


@dataclass(frozen=True, slots=True)
class Hit:
    """One indicator met in one event: where (`field`) and the event's value there (`observed`)."""

    indicator: Indicator
    field: str
    observed: str


def _add(table: dict[Any, Entry], key: Any, indicator: Indicator) -> None:
    present = table.get(key)
    if present is None:
        table[key] = indicator
    elif isinstance(present, tuple):
        table[key] = (*present, indicator)
    else:
        table[key] = (present, indicator)


def _entries(entry: Entry) -> tuple[Indicator, ...]:
    return entry if isinstance(entry, tuple) else (entry,)


def _values(raw: Any) -> Iterator[str]:
    if isinstance(raw, str):
        if raw:
            yield raw
    elif isinstance(raw, list):
        for item in raw:
            if isinstance(item, str) and item:
                yield item


def ip_key(text: str) -> tuple[int, int] | None:
    """(version, address as an integer) of an event's value; IPv4-mapped IPv6 is IPv4; None when
    it is not an address. inet_pton is several times faster than ipaddress on the stream."""
    if "%" in text:
        text = text.split("%", 1)[0]
    try:
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except OSError:
        pass
    try:
        number = int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    except OSError:
        return None
    if number >> 32 == 0xFFFF:
        return 4, number & 0xFFFFFFFF
    return 6, number


class IndicatorMatcher:
    """Built once per indicator set (a reload builds a new one); `match` only reads."""

    def __init__(self, indicators: Iterable[Indicator]) -> None:
        # (version, prefix length) -> {address >> (bits - prefix length): indicators}
        self._nets: dict[tuple[int, int], dict[int, Entry]] = {}
        self._exact: dict[IndicatorType, dict[str, Entry]] = {}
        count = 0
        for indicator in indicators:
            count += 1
            kind = indicator.type
            if kind in (IndicatorType.IPV4, IndicatorType.IPV6, IndicatorType.CIDR):
                address, _, length = indicator.value.partition("/")
                key = ip_key(address)
                if key is None:
                    continue
                version, number = key
                bits = 32 if version == 4 else 128
                prefix = int(length) if length else bits
                _add(self._nets.setdefault((version, prefix), {}), number >> (bits - prefix), indicator)
            else:
                _add(self._exact.setdefault(kind, {}), indicator.value, indicator)
        self.size = count
        # Longest prefixes first: the most specific indicator is reported first.
        self._v4 = sorted(((p, t) for (v, p), t in self._nets.items() if v == 4), key=lambda x: -x[0])
        self._v6 = sorted(((p, t) for (v, p), t in self._nets.items() if v == 6), key=lambda x: -x[0])
        self._domains = self._exact.get(IndicatorType.DOMAIN, {})
        self._urls = self._exact.get(IndicatorType.URL, {})
        self._emails = self._exact.get(IndicatorType.EMAIL, {})
        self._agents = self._exact.get(IndicatorType.USER_AGENT, {})
        self._hashes: dict[str, Entry] = {}
        for kind in (IndicatorType.MD5, IndicatorType.SHA1, IndicatorType.SHA256):
            for value, entry in self._exact.get(kind, {}).items():
                for indicator in _entries(entry):
                    _add(self._hashes, value, indicator)

    def __len__(self) -> int:
        return self.size

    def counts(self) -> dict[str, int]:
        """Indicators per type (as loaded)."""
        out: dict[str, int] = {}
        for (version, prefix), table in self._nets.items():
            name = "cidr" if prefix < (32 if version == 4 else 128) else f"ipv{version}"
            out[name] = out.get(name, 0) + sum(len(_entries(e)) for e in table.values())
        for kind, values in self._exact.items():
            out[kind.value] = sum(len(_entries(e)) for e in values.values())
        return out

    def lookup_ip(self, text: str) -> tuple[Indicator, ...]:
        key = ip_key(text)
        if key is None:
            return ()
        version, number = key
        tables, bits = (self._v4, 32) if version == 4 else (self._v6, 128)
        found: tuple[Indicator, ...] = ()
        for prefix, table in tables:
            entry = table.get(number >> (bits - prefix))
            if entry is not None:
                found += _entries(entry)
        return found

    def lookup_domain(self, text: str) -> tuple[Indicator, ...]:
        name = text.rstrip(".").lower()
        if not name.isascii():
            try:
                name = name.encode("idna").decode("ascii")
            except UnicodeError:
                return ()
        found: tuple[Indicator, ...] = ()
        while True:
            entry = self._domains.get(name)
            if entry is not None:
                found += _entries(entry)
            dot = name.find(".")
            if dot < 0 or name.find(".", dot + 1) < 0:
                return found
            name = name[dot + 1 :]

    def lookup_url(self, text: str, domain: str | None = None) -> tuple[Indicator, ...]:
        """A full URL, or a path (`/a/b?c`, as web servers log it) with the event's domain."""
        if text.startswith("/"):
            if not domain:
                return ()
            text = domain + text
        try:
            key = normalise_url(text)
        except ValueError:
            return ()
        entry = self._urls.get(key)
        return _entries(entry) if entry is not None else ()

    def match(self, event: Mapping[str, Any], agency: str | None, now: float) -> list[Hit]:
        """Every indicator of `agency` (or the SOC's), unexpired at `now`, the event carries; one
        hit per indicator (the first field it was seen in)."""
        if not self.size:
            return []
        hits: list[Hit] = []
        seen: set[str] = set()

        def keep(found: tuple[Indicator, ...], field: str, observed: str) -> None:
            for indicator in found:
                if indicator.id not in seen and indicator.applies_to(agency, now):
                    seen.add(indicator.id)
                    hits.append(Hit(indicator, field, observed))

        if self._nets:
            for field in IP_FIELDS:
                for value in _values(get_path(event, field)):
                    keep(self.lookup_ip(value), field, value)
        if self._domains:
            for field in DOMAIN_FIELDS:
                for value in _values(get_path(event, field)):
                    keep(self.lookup_domain(value), field, value)
        if self._urls or self._domains or self._nets:
            domain = get_path(event, "url.domain")
            for field in URL_FIELDS:
                for value in _values(get_path(event, field)):
                    if self._urls:
                        keep(self.lookup_url(value, domain if isinstance(domain, str) else None), field, value)
                    if not value.startswith("/"):
                        host = _url_host(value)
                        if host:
                            keep(self.lookup_ip(host) or self.lookup_domain(host), field, value)
        if self._hashes:
            for field in HASH_FIELDS:
                for value in _values(get_path(event, field)):
                    entry = self._hashes.get(value.lower())
                    if entry is not None:
                        keep(_entries(entry), field, value)
        if self._emails:
            for field in EMAIL_FIELDS:
                for value in _values(get_path(event, field)):
                    entry = self._emails.get(value.strip().lower())
                    if entry is not None:
                        keep(_entries(entry), field, value)
        if self._agents:
            for field in USER_AGENT_FIELDS:
                for value in _values(get_path(event, field)):
                    entry = self._agents.get(" ".join(value.split()))
                    if entry is not None:
                        keep(_entries(entry), field, value)
        return hits


def _url_host(url: str) -> str | None:
    rest = url.split("://", 1)[1] if "://" in url[:16] else url
    host = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    if host.startswith("["):
        return host[1:].split("]", 1)[0] or None
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host or None
