"""Watch lists for `canhgac sigma convert|match`: where a rule naming a list (`%list:NAME%`,
core/watchlists.py) gets the list's values from on the command line.

- `--lists FILE` (repeatable): lists as the lists API answers them — `GET /api/v1/lists/NAME`
  (one list), a JSON array of such answers, or `{"items": [...]}` of them; values are checked and
  normalised as `PUT /api/v1/lists/NAME` does.
- else `--config FILE`: the lists stored in that deployment's OpenSearch, read (once) only when a
  rule names a list — what back-tests and retro-hunts expand (api/lists/service.py `stored_lists`).
- else neither: a rule naming a list is refused, saying which list and how to supply it.

A list named by a rule but not among those supplied holds nothing, as on the stream (and is
reported as missing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from canhgac.api.lists.service import checked_values
from canhgac.core.errors import CanhgacError, ConfigError, InvalidRequest, RuleError
from canhgac.core.watchlists import WatchList

Loader = Callable[[], Mapping[str, WatchList]]

HOW_TO_SUPPLY = (
    "give --lists FILE (the list as `GET /api/v1/lists/NAME` answers it) or "
    "`canhgac --config FILE` (the lists stored in that deployment's OpenSearch)"
)
REASON = "watch list"


def unsupplied(*names: str) -> str:
    named = ", ".join(f"%list:{n}%" for n in names)
    which = "list" if len(names) == 1 else "lists"
    return f"the rule names the watch {which} {named} and this command was given no lists: {HOW_TO_SUPPLY}"


def _entries(data: Any, where: str) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        return list(data["items"])
    if isinstance(data, dict):
        return [data]
    raise ConfigError("expected a list object, a JSON array of them or {'items': [...]}", where=where)


def _watch_list(entry: Any, where: str) -> WatchList:
    if not isinstance(entry, dict):
        raise ConfigError("a list entry is not a JSON object", where=where)
    name = entry.get("name")
    if "values" not in entry:
        raise ConfigError(
            f"list {name!r} has no values (`GET /api/v1/lists` names the lists only; save "
            "`GET /api/v1/lists/NAME` for each)",
            where=where,
        )
    kind = entry.get("type")
    values = entry.get("values")
    if kind not in ("ip", "string") or not isinstance(values, list):
        raise ConfigError(f"list {name!r}: `type` must be ip or string and `values` an array", where=where)
    try:
        normalised = checked_values(kind, [str(value) for value in values])  # as PUT /api/v1/lists/NAME
    except InvalidRequest as exc:
        raise ConfigError(f"list {name!r}: {exc.message}", where=where) from exc
    try:
        return WatchList.model_validate({"name": name, "type": kind, "values": tuple(normalised)})
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise ConfigError(f"list {name!r}: {problem['msg']}", where=where) from exc


def read_list_files(paths: Sequence[str | Path]) -> dict[str, WatchList]:
    """The lists in these files, by name; ConfigError says which file and what is wrong."""
    lists: dict[str, WatchList] = {}
    origin: dict[str, str] = {}
    for path in paths:
        where = str(path)
        try:
            data = orjson.loads(Path(path).read_bytes())
        except OSError as exc:
            raise ConfigError(f"cannot read the file: {exc.strerror or exc}", where=where) from exc
        except orjson.JSONDecodeError as exc:
            raise ConfigError(f"not JSON: {exc}", where=where) from exc
        for entry in _entries(data, where):
            listed = _watch_list(entry, where)
            if listed.name in lists:
                raise ConfigError(f"list {listed.name!r} is given twice (also in {origin[listed.name]})", where=where)
            lists[listed.name] = listed
            origin[listed.name] = where
    return lists


def store_loader(config_file: str) -> Loader:
    """Reads every list stored in the deployment `config_file` describes (as the API's component)."""

    def load() -> Mapping[str, WatchList]:
        from canhgac.api.lists.service import stored_lists
        from canhgac.core.config import load_settings
        from canhgac.core.store import make_client

        settings = load_settings(config_file)

        async def read() -> dict[str, WatchList]:
            client = make_client(settings.opensearch, component="api")
            try:
                return await stored_lists(client, settings.opensearch)
            finally:
                await client.close()

        return asyncio.run(read())

    return load


class ListSource(Mapping[str, WatchList]):
    """The lists a command expands (rules/convert_lists.py looks names up with `.get`): loaded on
    the first lookup, so a command whose rules name no list never reads them. Without a loader,
    a lookup refuses the rule (RuleError "watch list", saying how to supply lists). A name looked
    up and not found is kept in `missing`; a loader that fails is tried once, its error kept in
    `error` and every rule naming a list refused with it."""

    def __init__(self, load: Loader | None, origin: str = "") -> None:
        self._load = load
        self._lists: Mapping[str, WatchList] | None = None
        self.origin = origin
        self.missing: set[str] = set()
        self.error: str | None = None

    @property
    def supplied(self) -> bool:
        return self._load is not None

    def loaded(self) -> Mapping[str, WatchList]:
        if self._load is None:
            return {}
        if self._lists is None and self.error is None:
            try:
                self._lists = self._load()
            except (CanhgacError, OSError) as exc:  # settings, credentials, the store unreachable or refusing
                self.error = f"cannot read the watch lists from {self.origin or 'the store'}: {exc}"
        return self._lists or {}

    def __getitem__(self, name: str) -> WatchList:
        if self._load is None:
            raise RuleError(unsupplied(name), reason=REASON)
        lists = self.loaded()
        if self.error is not None:
            raise RuleError(self.error, reason=REASON)
        if name not in lists:
            self.missing.add(name)
            raise KeyError(name)
        return lists[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.loaded())

    def __len__(self) -> int:
        return len(self.loaded())

    def __deepcopy__(self, memo: dict[int, Any]) -> ListSource:
        return self  # one source per command, whatever copies a pipeline


def list_source(list_files: Sequence[str] | None, config_file: str | None) -> ListSource:
    """--lists files first, else the store of --config, else none (rules naming lists refused)."""
    if list_files:
        lists = read_list_files(list_files)  # read now: a bad file fails the command before any rule
        return ListSource(lambda: lists, origin=", ".join(list_files))
    if config_file:
        return ListSource(store_loader(config_file), origin=f"the OpenSearch of {config_file}")
    return ListSource(None)


def plan_lists(plan: Any) -> set[str]:
    """The lists a compiled rule's plan (rules/plan.py) looks up."""
    found: set[str] = set()
    stack = [plan]
    while stack:
        node = stack.pop()
        if not isinstance(node, tuple) or not node:
            continue
        kind = node[0]
        if kind == "leaf" and node[1] == "list":
            found.add(str(node[2][1]))
        elif kind in ("and", "or"):
            stack.extend(node[1])
        elif kind == "not":
            stack.append(node[1])
        elif kind == "per_source":
            stack.append(node[1])
            stack.extend(p for _service, p in node[2])
    return found
