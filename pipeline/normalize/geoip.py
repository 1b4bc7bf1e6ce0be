"""Country and network owner of public addresses, added to events at normalisation.

The data is the database the `geoip2fast` package ships (country and AS name for IPv4 and IPv6,
offline): no download at run time, and as fresh as the pinned package, which the operations guide
says to update like any dependency. Private, loopback, link-local and documentation addresses get
nothing: a country for 10.0.0.1 would be noise, and those are what a province's internal traffic
mostly is.

ECS names, as Elastic's and Wazuh's GeoIP processors write them: `<side>.geo.country_iso_code`,
`<side>.geo.country_name`, `<side>.as.organization.name` (geoip2fast has no AS number).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any, NamedTuple

from canhgac.core.config import GeoIpConfig
from canhgac.core.event import Event

# The database with country and AS name, IPv4 and IPv6 (the package's largest, ~0.4 s to load).
DATA_FILE = "geoip2fast-asn-ipv6.dat.gz"
# Distinct addresses remembered: a province's traffic repeats the same few thousand public peers.
CACHE_ADDRESSES = 65_536


class Place(NamedTuple):
    country_iso_code: str
    country_name: str
    as_name: str


class GeoIp:
    """`enrich(event)` fills the geo and AS fields of the configured sides (source, destination, …)."""

    def __init__(self, cfg: GeoIpConfig) -> None:
        self.cfg = cfg
        self._lookup = lru_cache(maxsize=CACHE_ADDRESSES)(self._place)
        self._db: Any = None

    def _database(self) -> Any:
        if self._db is None:  # loaded on first use: a stage that sees no public address pays nothing
            from geoip2fast import GeoIP2Fast

            self._db = GeoIP2Fast(geoip2fast_data_file=DATA_FILE, verbose=False)
        return self._db

    def place(self, address: str) -> Place | None:
        """The place of a public address; None for a private or reserved one, or not an address."""
        return self._lookup(address)

    def _place(self, address: str) -> Place | None:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        if not ip.is_global:
            return None
        found = self._database().lookup(str(ip))
        code = getattr(found, "country_code", "") or ""
        if getattr(found, "is_private", False) or len(code) != 2 or not code.isalpha():
            return None  # "--" and the database's own names for reserved networks
        return Place(code, getattr(found, "country_name", "") or "", getattr(found, "asn_name", "") or "")

    def enrich(self, event: Event) -> None:
        if not self.cfg.enabled:
            return
        for side in self.cfg.fields:
            part = event.get(side)
            if not isinstance(part, dict):
                continue
            address = part.get("ip")
            if not isinstance(address, str):
                continue
            found = self.place(address)
            if found is None:
                continue
            geo = part.setdefault("geo", {})
            if isinstance(geo, dict):
                geo.setdefault("country_iso_code", found.country_iso_code)
                if found.country_name:
                    geo.setdefault("country_name", found.country_name)
            if found.as_name:
                owner = part.setdefault("as", {})
                if isinstance(owner, dict):
                    owner.setdefault("organization", {}).setdefault("name", found.as_name)
