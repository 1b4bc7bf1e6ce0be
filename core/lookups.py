"""Lookup tables: addresses, networks and host names mapped to the agency, information system and
owner they belong to, added to events at normalisation.

A table is a named set of rows managed through the API (`/api/v1/lookups`, CSV import too) and
stored in `<config_index_prefix>-lookups`; the normaliser re-reads the tables every
`lookups.refresh_secs` (like declared sources) and enriches each event it writes. A row matches:

- an IP address exactly, or a network (`10.20.0.0/16`): the most specific network wins;
- a host name, ignoring case; a fully qualified name also matches a row naming its first label
  (`web01.soyte.gov.vn` finds `web01` when no row names the full name).

Rows are looked at in table-name order: for the same address or name the first table wins.

For each side of the event (`host`, `source`, `destination`, `observer` by default) whose address
or name a row matches, the row is written to `canhgac.lookup.<side>`:
`agency`, `system` (an id of the information systems inventory, /api/v1/systems — the inventory
holds the system's name, level and contacts; the table only points at it), `owner`, `table`.

Tenancy: the event's `canhgac.agency`, which decides who sees the event and its alerts, comes
only from the proved source (core/source_registry.py) and is never changed here. A lookup's
agency is what the table says the *address* belongs to — an agency's firewall logs many other
agencies' addresses — so it is an enrichment for search and triage, never a visibility decision:
anyone who can edit a table would otherwise move events between tenants.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import ipaddress
import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from canhgac.core.config import OpenSearchConfig
from canhgac.core.errors import BackendUnavailable
from canhgac.core.event import Event
from canhgac.core.index import Index
from canhgac.core.periodic import cancel_and_wait, refresh_forever
from canhgac.core.store import make_client
from opensearchpy import AsyncOpenSearch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

log = logging.getLogger(__name__)

TABLE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
MAX_ROWS = 10_000
FIRST_READ_SECS = 5.0
HOST_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}$")
SIDES: tuple[str, ...] = ("host", "source", "destination", "observer")
CSV_COLUMNS = ("match", "agency", "system", "owner", "note")


def normalise_match(value: str) -> str:
    """A row's `match` as stored: an address, a network, or a lower-case host name."""
    text = value.strip()
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        if not HOST_NAME.match(text):
            raise ValueError(f"not an address, network or host name: {value!r}") from None
        return text.lower().rstrip(".")
    address = network.network_address
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address) if network.num_addresses == 1 else str(network)


class LookupRow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    match: str = Field(min_length=1, max_length=253, description="IP address, network (CIDR) or host name")
    agency: str | None = Field(default=None, max_length=64, description="the agency the address belongs to")
    system: str | None = Field(default=None, max_length=64, description="an information system id (/api/v1/systems)")
    owner: str | None = Field(default=None, max_length=256, description="who answers for it")
    note: str | None = Field(default=None, max_length=1000)

    @field_validator("match")
    @classmethod
    def _match(cls, value: str) -> str:
        return normalise_match(value)

    @field_validator("agency", "system", "owner", "note")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None


class LookupTable(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    description: str = ""
    rows: tuple[LookupRow, ...] = Field(default=(), max_length=MAX_ROWS)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not TABLE_NAME.match(value):
            raise ValueError("a table name is 1-64 characters: a-z, 0-9, '_', '.', '-'")
        return value


def parse_csv(text: str) -> tuple[list[LookupRow], list[str]]:
    """Rows from CSV with a header naming `match` and any of agency, system, owner, note; problems
    (line: reason) instead of rows when a line is bad."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if "match" not in header:
        return [], ["line 1: the header must name a `match` column (address, network or host name)"]
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown:
        return [], [f"line 1: unknown columns {', '.join(unknown)} (known: {', '.join(CSV_COLUMNS)})"]
    reader.fieldnames = header
    rows: list[LookupRow] = []
    problems: list[str] = []
    for line, raw in enumerate(reader, start=2):
        fields = {k: (v or "").strip() for k, v in raw.items() if k in CSV_COLUMNS}
        if not any(fields.values()):
            continue
        try:
            rows.append(LookupRow(**{k: v for k, v in fields.items() if v}))
        except ValidationError as exc:
            problems.append(f"line {line}: {exc.errors()[0]['msg']}")
    if len(rows) > MAX_ROWS:
        problems.append(f"at most {MAX_ROWS} rows")
    return rows, problems


class Found(NamedTuple):
    table: str
    row: LookupRow

    def fields(self) -> dict[str, str]:
        out = {"table": self.table, "match": self.row.match}
        for key in ("agency", "system", "owner"):
            value = getattr(self.row, key)
            if value:
                out[key] = value
        return out


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class LookupDirectory:
    """Every table's rows, ready for lookups: exact dicts, and networks by prefix length."""

    def __init__(self, tables: Iterable[LookupTable]) -> None:
        self.addresses: dict[str, Found] = {}
        self.hosts: dict[str, Found] = {}
        # (version, prefix length) -> {network address as int: row}; longest prefix looked at first.
        by_prefix: dict[tuple[int, int], dict[int, Found]] = {}
        for table in sorted(tables, key=lambda t: t.name):
            for row in table.rows:
                found = Found(table.name, row)
                try:
                    network = ipaddress.ip_network(row.match)
                except ValueError:
                    self.hosts.setdefault(row.match, found)
                    continue
                if network.num_addresses == 1:
                    self.addresses.setdefault(str(network.network_address), found)
                else:
                    key = (network.version, network.prefixlen)
                    by_prefix.setdefault(key, {}).setdefault(int(network.network_address), found)
        self.prefixes = sorted(by_prefix.items(), key=lambda item: -item[0][1])
        self.size = len(self.addresses) + len(self.hosts) + sum(len(v) for v in by_prefix.values())

    def address(self, text: str) -> Found | None:
        found = self.addresses.get(text)
        if found is not None:
            return found
        if not self.prefixes:
            return None
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            return None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
            if (found := self.addresses.get(str(ip))) is not None:
                return found
        bits = 32 if ip.version == 4 else 128
        value = int(ip)
        for (version, prefixlen), networks in self.prefixes:
            if version == ip.version:
                hit = networks.get(value >> (bits - prefixlen) << (bits - prefixlen))
                if hit is not None:
                    return hit
        return None

    def host(self, name: str) -> Found | None:
        lowered = name.lower().rstrip(".")
        found = self.hosts.get(lowered)
        if found is None and "." in lowered:
            found = self.hosts.get(lowered.split(".", 1)[0])
        return found

    def find(self, part: Mapping[str, Any]) -> Found | None:
        """The row for one side of an event: its addresses first, then its names."""
        for key in ("ip", "address"):
            for value in _texts(part.get(key)):
                if (found := self.address(value)) is not None:
                    return found
        if self.hosts:
            for key in ("name", "hostname", "domain", "address"):
                for value in _texts(part.get(key)):
                    if (found := self.host(value)) is not None:
                        return found
        return None

    def enrich(self, event: Event, sides: Sequence[str] = SIDES) -> None:
        ours = event.get("canhgac")
        if isinstance(ours, dict):
            ours.pop("lookup", None)  # ours to write: never what a record claims
        if not self.size:
            return
        found_any: dict[str, dict[str, str]] = {}
        for side in sides:
            part = event.get(side)
            if isinstance(part, dict) and (found := self.find(part)) is not None:
                found_any[side] = found.fields()
        if found_any:
            ours = event.setdefault("canhgac", {})
            if isinstance(ours, dict):
                ours["lookup"] = found_any


def _texts(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v]
    return ()


def tables_from_docs(docs: Iterable[Mapping[str, Any]]) -> list[LookupTable]:
    tables = []
    for doc in docs:
        try:
            tables.append(LookupTable.model_validate(doc))
        except ValidationError as exc:
            log.warning("lookup table %s ignored: %s", doc.get("name") or doc.get("id"), exc)
    return tables


class LookupSource:
    """The tables in force, re-read from OpenSearch every `refresh_secs` in the background; when
    they cannot be read the last ones stay (a blip never strips enrichment)."""

    def __init__(self, opensearch: OpenSearchConfig | None, *, refresh_secs: float = 10.0) -> None:
        self.opensearch = opensearch
        self.refresh_secs = refresh_secs
        self.directory = LookupDirectory(())
        self.client: AsyncOpenSearch | None = None
        self._docs: list[dict[str, Any]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._refreshed_at = float("-inf")

    async def refresh(self) -> None:
        if self.opensearch is None:
            return
        self._refreshed_at = time.monotonic()
        if self.client is None:
            self.client = make_client(self.opensearch, component="normalizer")
        try:
            docs = await Index(self.client, self.opensearch.lookups_index).read_all()
        except BackendUnavailable as exc:
            log.warning("lookup tables not refreshed (keeping the last ones): %s", exc)
            return
        if docs != self._docs:
            self._docs = docs
            self.directory = LookupDirectory(tables_from_docs(docs))

    async def start(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.refresh(), FIRST_READ_SECS)
        if self.opensearch is not None and self._task is None:
            self._task = asyncio.create_task(
                refresh_forever(self.refresh, self.refresh_secs, "lookup tables"), name="normalizer-lookups"
            )

    async def close(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        if self.client is not None:
            await self.client.close()
            self.client = None
