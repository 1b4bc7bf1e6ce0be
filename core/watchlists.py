"""Watch and allow lists: named sets of values of one type that Sigma rules and rule exceptions
reference, and that analysts edit through the API while the detector runs.

A rule names a list with Sigma's `expand` modifier and a `list:` placeholder, the whole value:

    selection:
      source.ip|expand: '%list:scanners%'

(static placeholders from `rules.placeholders` are filled first and stay static; a `list:` one is
not filled at load time but looked up per event, so editing the list changes matching at the
detector's next reload cycle without recompiling or restarting anything). An exception condition
`{"field": "user.name", "op": "in_list", "value": "service-accounts"}` holds when the field's value
is in the list (an allow list).

| type     | values                                | a field value is in the list when …                   |
| -------- | ------------------------------------- | ----------------------------------------------------- |
| `ip`     | addresses and networks (10.0.0.0/8)   | it is one of the addresses or inside one of the networks |
| `string` | any text (user names, hosts, hashes)  | it equals one of the values, ignoring case as Sigma does |

`LISTS` is the process's one set of live lists: the detector's reload cycle replaces its contents
(pipeline/rule_config.py); compiled rule predicates and exceptions read it per event. A list that
does not exist (yet) holds nothing, so a rule naming it matches nothing through it until it exists.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ListType = Literal["ip", "string"]
LIST_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
PLACEHOLDER_PREFIX = "list:"
MAX_LIST_VALUES = 10_000

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def fold(text: str) -> str:
    """Caseless form (Sigma compares strings ignoring case); the rules' context folds the same way."""
    return text.lower() if text.isascii() else text.casefold()


def list_placeholder(name: str) -> str | None:
    """The list a placeholder names (`list:scanners` -> `scanners`), else None."""
    if name.startswith(PLACEHOLDER_PREFIX):
        return name[len(PLACEHOLDER_PREFIX) :]
    return None


def normalise_value(kind: ListType, value: str) -> str:
    """One value as it is stored; ValueError says what is wrong."""
    text = value.strip()
    if not text:
        raise ValueError("empty value")
    if kind == "ip":
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError as exc:
            raise ValueError(f"not an address or network: {value!r}") from exc
        return str(network.network_address) if network.num_addresses == 1 else str(network)
    if len(text) > 1024:
        raise ValueError("a value has at most 1024 characters")
    return text


class WatchList(BaseModel):
    """A list as stored (`<config_index_prefix>-lists`, the document id is the name)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    type: ListType
    values: tuple[str, ...] = Field(default=(), max_length=MAX_LIST_VALUES)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not LIST_NAME.match(value):
            raise ValueError("a list name is 1-64 characters: a-z, 0-9, '_', '.', '-'")
        return value


class CompiledList:
    """Membership of one list: a set of folded strings, or of addresses plus a few networks."""

    __slots__ = ("kind", "networks", "values")

    def __init__(self, kind: ListType, values: Iterable[str]) -> None:
        self.kind = kind
        self.values: frozenset[str] = frozenset()
        self.networks: tuple[Network, ...] = ()
        if kind == "string":
            self.values = frozenset(fold(v) for v in values)
            return
        exact: set[str] = set()
        networks: list[Network] = []
        for value in values:
            try:
                network = ipaddress.ip_network(value, strict=False)
            except ValueError:
                continue  # stored values were checked; an odd one never matches
            if network.num_addresses == 1:
                exact.add(str(network.network_address))
            else:
                networks.append(network)
        self.values = frozenset(exact)
        self.networks = tuple(networks)

    def contains(self, value: Any) -> bool:
        if value is None or isinstance(value, dict | list):
            return False
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        if self.kind == "string":
            return fold(text) in self.values
        try:
            address = ipaddress.ip_address(text.strip())
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if str(address) in self.values:
            return True
        return any(address.version == net.version and address in net for net in self.networks)


EMPTY = CompiledList("string", ())


class LiveLists:
    """The lists in force in this process, by name; `replace` swaps them all at once."""

    def __init__(self) -> None:
        self._lists: dict[str, CompiledList] = {}
        self.version = 0

    def get(self, name: str) -> CompiledList:
        return self._lists.get(name, EMPTY)

    def contains(self, name: str, value: Any) -> bool:
        return self._lists.get(name, EMPTY).contains(value)

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._lists))

    def replace(self, lists: Iterable[WatchList]) -> None:
        self._lists = {wl.name: CompiledList(wl.type, wl.values) for wl in lists}
        self.version += 1

    def replace_from_docs(
        self, docs: Iterable[Mapping[str, Any]], on_bad: Callable[[str, Exception], None] | None = None
    ) -> None:
        """From the stored documents; a document that does not read is skipped (and reported)."""
        lists = []
        for doc in docs:
            try:
                lists.append(WatchList.model_validate(doc))
            except ValueError as exc:
                if on_bad is not None:
                    on_bad(str(doc.get("name") or doc.get("id")), exc)
        self.replace(lists)


LISTS = LiveLists()
