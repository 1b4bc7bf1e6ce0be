"""Indicators matched on the stream: hash lookups and sorted ranges, never one rule per indicator,
so the cost per event does not grow with the number of indicators.

- Exact values (addresses, domains, URLs, hashes, e-mail addresses, user agents) sit in one dict
  per kind; addresses keyed by their integer value (so `::ffff:1.2.3.4` is `1.2.3.4`).
- Networks (CIDRs) are cut into disjoint ranges, each with the networks covering it (most specific
  first), sorted by start: an address is one `bisect` away from every network it is in.
- A domain indicator also matches its subdomains (`evil.com` matches `cdn.evil.com`): the event's
  name is looked up with each leading label removed, down to two labels.

Tenancy: an indicator of an agency matches only that agency's events; the SOC's (`agency` None)
match every agency's. Expiry is checked at match time, so an indicator stops matching the moment
it expires, whatever the reload cycle.
"""

from __future__ import annotations

import socket
from bisect import bisect_right
from collections.abc import Iterable, Mapping
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
FIELDS_BY_KIND = {
    "ip": IP_FIELDS,
    "domain": DOMAIN_FIELDS,
    "url": URL_FIELDS,
    "hash": HASH_FIELDS,
    "email": EMAIL_FIELDS,
    "agent": USER_AGENT_FIELDS,
}

Entry = Indicator | tuple[Indicator, ...]
CACHE_SIZE = 65_536


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
    """Built once per indicator set (a reload builds a new one); `match` only reads, apart from
    its caches of address and domain answers."""

    def __init__(self, indicators: Iterable[Indicator]) -> None:
        self._ips: dict[tuple[int, int], Entry] = {}  # (version, address) -> indicators
        self._ip_cache: dict[str, tuple[Indicator, ...]] = {}
        self._domain_cache: dict[str, tuple[Indicator, ...]] = {}
        networks: dict[int, list[tuple[int, int, int, Indicator]]] = {4: [], 6: []}  # version -> (lo, hi, prefix, …)
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
                if prefix == bits:
                    _add(self._ips, key, indicator)
                else:
                    low = number >> (bits - prefix) << (bits - prefix)
                    networks[version].append((low, low | ((1 << (bits - prefix)) - 1), prefix, indicator))
            else:
                _add(self._exact.setdefault(kind, {}), indicator.value, indicator)
        self.size = count
        self._ranges = {version: _disjoint_ranges(nets) for version, nets in networks.items()}
        self._network_count = sum(len(nets) for nets in networks.values())
        self._domains = self._exact.get(IndicatorType.DOMAIN, {})
        self._urls = self._exact.get(IndicatorType.URL, {})
        self._emails = self._exact.get(IndicatorType.EMAIL, {})
        self._agents = self._exact.get(IndicatorType.USER_AGENT, {})
        self._hashes: dict[str, Entry] = {}
        for kind in (IndicatorType.MD5, IndicatorType.SHA1, IndicatorType.SHA256):
            for value, entry in self._exact.get(kind, {}).items():
                for indicator in _entries(entry):
                    _add(self._hashes, value, indicator)
        has_ips = bool(self._ips or self._network_count)
        lookups: dict[str, Any] = {
            "ip": self.lookup_ip if has_ips else None,
            "domain": self.lookup_domain if self._domains else None,
            "url": self._lookup_url_field if (self._urls or self._domains or has_ips) else None,
            "hash": self._lookup_hash if self._hashes else None,
            "email": self._lookup_email if self._emails else None,
            "agent": self._lookup_agent if self._agents else None,
        }
        # The fields of the kinds in use as a tree of their path's parts; a leaf is (lookup, dotted
        # name). Flat dotted keys (ECS allows both spellings) map straight to their leaf.
        tree: dict[str, Any] = {}
        flat: dict[str, tuple[Any, str]] = {}
        for kind_name, fields in FIELDS_BY_KIND.items():
            lookup = lookups[kind_name]
            if lookup is None:
                continue
            for field in fields:
                *parents, last = field.split(".")
                node = tree
                for part in parents:
                    node = node.setdefault(part, {})
                node[last] = (lookup, field)
                flat[field] = (lookup, field)
        self._tree = tree
        self._flat = flat
        # Each top-level key of the tree gets a function compiled from the tree (straight-line
        # `get`s of the paths that can carry an observable, no generic walk), and each shape of
        # event (its top-level keys, in order) a plan: the functions of the keys it has.
        self._readers = _compile_readers(tree, self)
        self._plans: dict[tuple[str, ...], tuple[tuple[str, Any], ...]] = {}

    def __len__(self) -> int:
        return self.size

    def counts(self) -> dict[str, int]:
        """Indicators per type (as loaded)."""
        out: dict[str, int] = {"cidr": self._network_count} if self._network_count else {}
        for (version, _number), entry in self._ips.items():
            out[f"ipv{version}"] = out.get(f"ipv{version}", 0) + len(_entries(entry))
        for kind, values in self._exact.items():
            out[kind.value] = sum(len(_entries(e)) for e in values.values())
        return out

    def lookup_ip(self, text: str, event: Mapping[str, Any] | None = None) -> tuple[Indicator, ...]:
        # Logs name the same addresses over and over: answers are kept (tenancy and expiry are
        # checked after, per event), and forgotten all at once past CACHE_SIZE (each).
        found = self._ip_cache.get(text)
        if found is not None:
            return found
        key = ip_key(text)
        found = ()
        if key is not None:
            entry = self._ips.get(key)
            found = _entries(entry) if entry is not None else ()
            starts, ends, covers = self._ranges[key[0]]
            if starts:
                at = bisect_right(starts, key[1]) - 1
                if at >= 0 and key[1] <= ends[at]:
                    found += covers[at]
        if len(self._ip_cache) >= CACHE_SIZE:
            self._ip_cache.clear()
        self._ip_cache[text] = found
        return found

    def lookup_domain(self, text: str, event: Mapping[str, Any] | None = None) -> tuple[Indicator, ...]:
        found = self._domain_cache.get(text)
        if found is None:
            found = self._lookup_domain(text)
            if len(self._domain_cache) >= CACHE_SIZE:
                self._domain_cache.clear()
            self._domain_cache[text] = found
        return found

    def _lookup_domain(self, text: str) -> tuple[Indicator, ...]:
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
            # url.domain never carries a port: host + path is already the normalised spelling.
            key = domain.rstrip(".").lower() + text.split("#", 1)[0]
        else:
            try:
                key = normalise_url(text)
            except ValueError:
                return ()
        entry = self._urls.get(key)
        return _entries(entry) if entry is not None else ()

    def _lookup_url_field(self, value: str, event: Mapping[str, Any] | None) -> tuple[Indicator, ...]:
        """The URL itself, then its host as an address or a domain."""
        url = event.get("url") if event is not None else None
        domain = url.get("domain") if isinstance(url, dict) else get_path(event or {}, "url.domain")
        found = self.lookup_url(value, domain if isinstance(domain, str) else None) if self._urls else ()
        host = None if value.startswith("/") else _url_host(value)
        if host:
            found += self.lookup_ip(host) or self.lookup_domain(host)
        return found

    def _lookup_hash(self, value: str, event: Mapping[str, Any] | None) -> tuple[Indicator, ...]:
        entry = self._hashes.get(value)  # stored lower-case, as most logs write them: no copy then
        if entry is None and not value.islower():
            entry = self._hashes.get(value.lower())
        return _entries(entry) if entry is not None else ()

    def _lookup_email(self, value: str, event: Mapping[str, Any] | None) -> tuple[Indicator, ...]:
        entry = self._emails.get(value.strip().lower())
        return _entries(entry) if entry is not None else ()

    def _lookup_agent(self, value: str, event: Mapping[str, Any] | None) -> tuple[Indicator, ...]:
        entry = self._agents.get(value)
        if entry is None and (value != value.strip() or "  " in value or "\t" in value):
            entry = self._agents.get(" ".join(value.split()))
        return _entries(entry) if entry is not None else ()

    def match(self, event: Mapping[str, Any], agency: str | None, now: float) -> list[Hit]:
        """Every indicator of `agency` (or the SOC's), unexpired at `now`, the event carries; one
        hit per indicator (the first field it was seen in: top-level keys in the event's order,
        `related.*` last; inside one object, in the order of the field lists above).

        The event's shape (its top-level keys) picks a plan made once per shape: the compiled
        readers of the observable objects it has (`source`, `url`, `dns` …), nothing else."""
        if not self.size:
            return []
        shape = tuple(event)
        plan = self._plans.get(shape)
        if plan is None:
            plan = self._plan(shape)
        hits: list[Hit] = []
        for key, reader in plan:
            reader(event[key], event, agency, now, hits)
        return hits

    def _plan(self, shape: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
        plan: list[tuple[str, Any]] = []
        related = None
        for key in shape:
            reader = self._readers.get(key)
            if reader is None:
                if "." in key and key in self._flat:
                    plan.append((key, _flat_reader(*self._flat[key])))
            elif key == "related":
                related = (key, reader)  # last: a hit names the specific field (source.ip) when there is one
            else:
                plan.append((key, reader))
        if related is not None:
            plan.append(related)
        if len(self._plans) >= PLAN_CACHE_SIZE:
            self._plans.clear()
        self._plans[shape] = found = tuple(plan)
        return found


PLAN_CACHE_SIZE = 4_096


def _leaf_list(
    lookup: Any,
    values: list[Any],
    field: str,
    event: Mapping[str, Any],
    agency: str | None,
    now: float,
    hits: list[Hit],
) -> None:
    for text in values:
        if isinstance(text, str) and text:
            found = lookup(text, event)
            if found:
                _keep(hits, found, field, text, agency, now)


def _flat_reader(lookup: Any, field: str) -> Any:
    """A flat dotted key (`source.ip` at the top level) read as its leaf."""

    def read(value: Any, event: Mapping[str, Any], agency: str | None, now: float, hits: list[Hit]) -> None:
        if isinstance(value, str):
            found = lookup(value, event) if value else ()
            if found:
                _keep(hits, found, field, value, agency, now)
        elif isinstance(value, list):
            _leaf_list(lookup, value, field, event, agency, now, hits)

    return read


def _compile_readers(tree: dict[str, Any], matcher: IndicatorMatcher) -> dict[str, Any]:
    """One function per top-level key of the tree: nested `get`s down every path of its subtree,
    a lookup where a string (or a list of them) is found. An address or a domain is first looked
    up in the matcher's answer cache inline (no call for the addresses logs repeat); everything
    else is exactly what `_leaf` did."""
    names: dict[str, Any] = {
        "_keep": _keep,
        "_leaf_list": _leaf_list,
        "isinstance": isinstance,
        "str": str,
        "list": list,
        "dict": dict,
        "_ip_cache": matcher._ip_cache,
        "_domain_cache": matcher._domain_cache,
    }
    lookup_names: dict[int, str] = {}
    readers: dict[str, Any] = {}

    def name_of(lookup: Any) -> str:
        found = lookup_names.get(id(lookup))
        if found is None:
            found = lookup_names[id(lookup)] = f"_lookup{len(lookup_names)}"
            names[found] = lookup
        return found

    def body(node: dict[str, Any], var: str, depth: int, indent: str) -> list[str]:
        lines: list[str] = []
        for key, sub in node.items():
            child = f"v{depth}"
            lines.append(f"{indent}{child} = {var}.get({key!r})")
            lines.append(f"{indent}if {child} is not None:")
            inner = indent + "    "
            if isinstance(sub, tuple):
                lookup, field = sub
                fn = name_of(lookup)
                cache = (
                    "_ip_cache"
                    if getattr(lookup, "__func__", None) is IndicatorMatcher.lookup_ip
                    else "_domain_cache"
                    if getattr(lookup, "__func__", None) is IndicatorMatcher.lookup_domain
                    else None
                )
                lines.append(f"{inner}if isinstance({child}, str):")
                lines.append(f"{inner}    if {child}:")
                if cache:
                    lines.append(f"{inner}        f = {cache}.get({child})")
                    lines.append(f"{inner}        if f is None:")
                    lines.append(f"{inner}            f = {fn}({child}, event)")
                else:
                    lines.append(f"{inner}        f = {fn}({child}, event)")
                lines.append(f"{inner}        if f:")
                lines.append(f"{inner}            _keep(hits, f, {field!r}, {child}, agency, now)")
                lines.append(f"{inner}elif isinstance({child}, list):")
                if cache:  # related.ip, related.hosts: the list's values mostly repeat the event's own
                    lines.append(f"{inner}    for t in {child}:")
                    lines.append(f"{inner}        if isinstance(t, str) and t:")
                    lines.append(f"{inner}            f = {cache}.get(t)")
                    lines.append(f"{inner}            if f is None:")
                    lines.append(f"{inner}                f = {fn}(t, event)")
                    lines.append(f"{inner}            if f:")
                    lines.append(f"{inner}                _keep(hits, f, {field!r}, t, agency, now)")
                else:
                    lines.append(f"{inner}    _leaf_list({fn}, {child}, {field!r}, event, agency, now, hits)")
            else:
                lines.append(f"{inner}if isinstance({child}, dict):")
                lines.extend(body(sub, child, depth + 1, inner + "    "))
        return lines

    for top, sub in tree.items():
        fname = "_read_" + "".join(c if c.isalnum() else "_" for c in top)
        if isinstance(sub, tuple):  # a one-part field (none in the ECS lists): read as a flat key
            readers[top] = _flat_reader(*sub)
            continue
        source = [f"def {fname}(v0, event, agency, now, hits):", "    if not isinstance(v0, dict):", "        return"]
        source.extend(body(sub, "v0", 1, "    "))
        namespace = dict(names)
        exec(compile("\n".join(source) + "\n", f"<indicator reader {top}>", "exec"), namespace)
        readers[top] = namespace[fname]
    return readers


def _keep(
    hits: list[Hit], found: tuple[Indicator, ...], field: str, observed: str, agency: str | None, now: float
) -> None:
    for indicator in found:
        if indicator.applies_to(agency, now) and all(hit.indicator.id != indicator.id for hit in hits):
            hits.append(Hit(indicator, field, observed))


def _disjoint_ranges(
    networks: list[tuple[int, int, int, Indicator]],
) -> tuple[list[int], list[int], list[tuple[Indicator, ...]]]:
    """Cut overlapping networks into disjoint ranges (start, end, covering networks with the most
    specific first), sorted by start: a sweep over every network's start and end."""
    events: list[tuple[int, int, int, Indicator]] = []  # (point, 0 = closes before / 1 = opens, …)
    for low, high, prefix, indicator in networks:
        events.append((low, 1, prefix, indicator))
        events.append((high + 1, 0, prefix, indicator))
    events.sort(key=lambda e: (e[0], e[1]))
    starts: list[int] = []
    ends: list[int] = []
    covers: list[tuple[Indicator, ...]] = []
    active: dict[int, tuple[int, Indicator]] = {}  # id(indicator) -> (prefix, indicator)
    at = 0
    while at < len(events):
        point = events[at][0]
        while at < len(events) and events[at][0] == point:
            _point, opens, prefix, indicator = events[at]
            if opens:
                active[id(indicator)] = (prefix, indicator)
            else:
                active.pop(id(indicator), None)
            at += 1
        if starts and ends[-1] == -1:
            ends[-1] = point - 1
        if active:
            starts.append(point)
            ends.append(-1)  # closed at the next point (every open range has a closing point)
            covers.append(tuple(i for _p, i in sorted(active.values(), key=lambda pi: -pi[0])))
    return starts, ends, covers


def _url_host(url: str) -> str | None:
    rest = url.split("://", 1)[1] if "://" in url[:16] else url
    host = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    if host.startswith("["):
        return host[1:].split("]", 1)[0] or None
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host or None
