"""Indicators: their types, one normalised spelling per value, and the record the matcher keeps.

A value is normalised once when it is stored and again when an event's value is looked up, with
the same function, so `Evil.COM.`, `evil[.]com` and `evil.com` are one indicator and one lookup:

| type | normalised value |
| --- | --- |
| `ipv4`, `ipv6` | the address (`::ffff:1.2.3.4` is the IPv4 address `1.2.3.4`; `%zone` dropped) |
| `cidr` | the network (`10.1.2.3/8` -> `10.0.0.0/8`); a full-length prefix becomes `ipv4`/`ipv6` |
| `domain` | lower case, IDNA (punycode), no trailing dot, no leading `*.`; matches its subdomains too |
| `url` | `host[:port]/path[?query]`: scheme and fragment dropped, host lowered, default port dropped |
| `md5`, `sha1`, `sha256` | lower-case hex of the exact length |
| `email` | lower case, `mailto:` dropped |
| `user_agent` | the text with runs of white space made one space (case kept: it is not a name) |

Bulletins circulate defanged values (`hxxp://`, `[.]`, `[:]`, `(.)`): they are refanged first.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from urllib.parse import urlsplit

from canhgac.core.alert import SOC_AGENCY, Severity


class IndicatorType(StrEnum):
    IPV4 = "ipv4"
    IPV6 = "ipv6"
    CIDR = "cidr"
    DOMAIN = "domain"
    URL = "url"
    MD5 = "md5"
    SHA1 = "sha1"
    SHA256 = "sha256"
    EMAIL = "email"
    USER_AGENT = "user_agent"


HASH_LENGTHS = {IndicatorType.MD5: 32, IndicatorType.SHA1: 40, IndicatorType.SHA256: 64}
_HEX = re.compile(r"^[0-9a-f]+$")
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_DEFANG = (("[.]", "."), ("(.)", "."), ("{.}", "."), ("[dot]", "."), ("[:]", ":"), ("[@]", "@"), ("[at]", "@"))
_SPACES = re.compile(r"\s+")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}
MAX_VALUE_CHARS = 4096
# Agency codes name an index each (`<config_index_prefix>-indicators-<agency>`).
AGENCY_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def refang(text: str) -> str:
    out = text.strip()
    for defanged, plain in _DEFANG:
        if defanged in out:
            out = out.replace(defanged, plain)
    lowered = out[:8].lower()
    if lowered.startswith(("hxxp", "hxxps", "fxp")):
        out = out.replace("xx", "tt", 1) if lowered.startswith("hxxp") else "ftp" + out[3:]
    return out


def normalise_ip(text: str) -> tuple[IndicatorType, str]:
    address = ipaddress.ip_address(text.strip().strip("[]").split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (IndicatorType.IPV4 if address.version == 4 else IndicatorType.IPV6), str(address)


def normalise_cidr(text: str) -> tuple[IndicatorType, str]:
    network = ipaddress.ip_network(text.strip().split("%", 1)[0], strict=False)
    if isinstance(network, ipaddress.IPv6Network) and network.network_address.ipv4_mapped is not None:
        if network.prefixlen >= 96:
            mapped = network.network_address.ipv4_mapped
            network = ipaddress.ip_network(f"{mapped}/{network.prefixlen - 96}")
    if network.prefixlen == network.max_prefixlen:
        return normalise_ip(str(network.network_address))
    return IndicatorType.CIDR, str(network)


def normalise_domain(text: str) -> str:
    name = text.strip().rstrip(".").lower()
    if name.startswith("*."):
        name = name[2:]
    if not name.isascii():
        name = name.encode("idna").decode("ascii")
    labels = name.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"not a domain name: {text!r}")
    return name


def normalise_url(text: str) -> str:
    raw = text.strip()
    if "://" not in raw[:16]:
        raw = "http://" + raw
    parts = urlsplit(raw)
    host = parts.hostname
    if not host:
        raise ValueError(f"not a URL: {text!r}")
    try:
        host = normalise_ip(host)[1]
        host = f"[{host}]" if ":" in host else host
    except ValueError:
        host = normalise_domain(host) if "." in host else host.lower()
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a URL (bad port): {text!r}") from exc
    scheme = parts.scheme.lower()
    netloc = host if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    path = parts.path or "/"
    return f"{netloc}{path}?{parts.query}" if parts.query else f"{netloc}{path}"


def normalise_hash(kind: IndicatorType, text: str) -> str:
    value = text.strip().lower()
    if len(value) != HASH_LENGTHS[kind] or not _HEX.match(value):
        raise ValueError(f"not a {kind.value} hash: {text!r}")
    return value


def normalise_email(text: str) -> str:
    value = text.strip().lower()
    if value.startswith("mailto:"):
        value = value[7:]
    local, at, domain = value.rpartition("@")
    if not at or not local or " " in value:
        raise ValueError(f"not an e-mail address: {text!r}")
    return f"{local}@{normalise_domain(domain)}"


def normalise(kind: IndicatorType, text: str) -> tuple[IndicatorType, str]:
    """(type, value) as stored and looked up; the type may change (a /32 CIDR is an address,
    an `ipv4` given an IPv6 value is `ipv6`). ValueError says why a value is refused."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("empty value")
    if len(text) > MAX_VALUE_CHARS:
        raise ValueError(f"value longer than {MAX_VALUE_CHARS} characters")
    if kind is IndicatorType.USER_AGENT:
        return kind, _SPACES.sub(" ", text.strip())
    value = refang(text)
    if kind in (IndicatorType.IPV4, IndicatorType.IPV6):
        return normalise_cidr(value) if "/" in value else normalise_ip(value)
    if kind is IndicatorType.CIDR:
        return normalise_cidr(value)
    if kind is IndicatorType.DOMAIN:
        return kind, normalise_domain(value)
    if kind is IndicatorType.URL:
        return kind, normalise_url(value)
    if kind in HASH_LENGTHS:
        return kind, normalise_hash(kind, value)
    if kind is IndicatorType.EMAIL:
        return kind, normalise_email(value)
    raise ValueError(f"unknown indicator type {kind!r}")


def detect_type(text: str) -> IndicatorType:
    """The type of a bare value (plain lists, CSV rows without a type). User agents are never
    guessed: they must be named."""
    value = refang(text).strip()
    lowered = value.lower()
    for attempt in (normalise_ip, normalise_cidr):
        try:
            return attempt(value)[0]
        except ValueError:
            pass
    if _HEX.match(lowered):
        for kind, length in HASH_LENGTHS.items():
            if len(lowered) == length:
                return kind
    if "://" in value[:16] or ("/" in value and "." in value.split("/", 1)[0]):
        return IndicatorType.URL
    if "@" in value:
        return IndicatorType.EMAIL
    try:
        normalise_domain(value)
        return IndicatorType.DOMAIN
    except ValueError:
        pass
    raise ValueError(f"cannot tell the type of {text!r}: give it")


def scope_of(agency: str | None) -> str:
    """The tenant an indicator belongs to: an agency's code, or `soc` for every agency."""
    return agency or SOC_AGENCY


@dataclass(frozen=True, slots=True)
class Indicator:
    """What the matcher keeps of a stored indicator (and what an alert shows of it).
    `agency` None: the SOC's, matched on every agency's events. `expires_at`: epoch seconds."""

    id: str
    type: IndicatorType
    value: str
    feed: str
    agency: str | None = None
    confidence: int | None = None
    severity: Severity = Severity.HIGH
    tags: tuple[str, ...] = ()
    expires_at: float | None = None
    reason: str | None = None

    def applies_to(self, agency: str | None, now: float) -> bool:
        if self.agency is not None and self.agency != agency:
            return False
        return self.expires_at is None or now < self.expires_at

    @classmethod
    def from_doc(cls, doc: dict[str, object]) -> Indicator:
        """A stored document (`api/intel`'s shape). Strings repeated across many indicators (feed,
        agency, tags) are interned: a million indicators share a few copies."""
        agency = doc.get("agency")
        expires = _epoch(doc.get("expires_at"))
        confidence = doc.get("confidence")
        tags = doc.get("tags") or ()
        reason = doc.get("reason")
        return cls(
            id=str(doc["id"]),
            type=IndicatorType(str(doc["type"])),
            value=str(doc["value"]),
            feed=sys.intern(str(doc.get("feed") or "manual")),
            agency=sys.intern(agency) if isinstance(agency, str) and agency and agency != SOC_AGENCY else None,
            confidence=int(confidence) if isinstance(confidence, int | float) else None,
            severity=Severity(str(doc.get("severity") or Severity.HIGH)),
            tags=_shared_tags(tags),
            expires_at=expires,
            reason=reason if isinstance(reason, str) else None,
        )


def _epoch(value: object) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


_TAG_SETS: dict[tuple[str, ...], tuple[str, ...]] = {}


def _shared_tags(tags: object) -> tuple[str, ...]:
    """One tuple per distinct tag list: a feed's indicators mostly share theirs."""
    if not isinstance(tags, list | tuple) or not tags:
        return ()
    key = tuple(sys.intern(str(t)) for t in tags)
    if len(_TAG_SETS) > 100_000:
        _TAG_SETS.clear()
    return _TAG_SETS.setdefault(key, key)
