"""The inventory in `<config_index_prefix>-systems` (one document per system id), and its CSV import.

CSV (UTF-8, a BOM is fine; the first line names the columns, in any order):

    id,name,agency,security_level,criticality,hosts,sources,contacts,description

`id`, `name`, `agency` and `security_level` are required; `hosts` and `sources` are lists separated
by `;`; `contacts` is `name|email|phone|role` entries separated by `;` (empty parts allowed).
A file is imported whole or not at all: any bad row refuses the file, each problem with its line.
A row whose id exists replaces that system.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from canhgac.api.search import run_search, scope_filter
from canhgac.api.systems.models import ImportProblem, SystemCreate, SystemUpdate
from canhgac.core.alert import Status
from canhgac.core.config import OpenSearchConfig
from canhgac.core.errors import NotFound
from canhgac.core.index import Index, translated
from canhgac.core.systems import Inventory, place_alert, systems_index
from opensearchpy import AsyncOpenSearch
from pydantic import ValidationError

COLUMNS = ("id", "name", "agency", "security_level", "criticality", "hosts", "sources", "contacts", "description")
REQUIRED = ("id", "name", "agency", "security_level")
MAX_ROWS = 5000


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _missing(system_id: str) -> str:
    return f"no system {system_id!r}"


async def list_systems(
    client: AsyncOpenSearch, cfg: OpenSearchConfig, agency: str | None, *, level: int | None = None
) -> list[dict[str, Any]]:
    filters = scope_filter("agency", agency)
    if level is not None:
        filters.append({"term": {"security_level": level}})
    body = {"size": 10_000, "query": {"bool": {"filter": filters}}, "sort": [{"id": {"order": "asc"}}]}
    result = await run_search(client, systems_index(cfg), body)
    return [h["_source"] for h in result["hits"]["hits"]]


async def get_system(
    client: AsyncOpenSearch, cfg: OpenSearchConfig, system_id: str, agency: str | None
) -> dict[str, Any]:
    """The system, if the caller may see it (another agency's is as missing as none)."""
    doc = await Index(client, systems_index(cfg)).get(system_id, missing=_missing(system_id))
    if agency is not None and doc.get("agency") != agency:
        raise NotFound(_missing(system_id))
    return doc


async def create_system(client: AsyncOpenSearch, cfg: OpenSearchConfig, body: SystemCreate, by: str) -> dict[str, Any]:
    doc = body.model_dump(mode="json") | {"created_at": _now(), "created_by": by}
    await Index(client, systems_index(cfg)).put(
        body.id, doc, create=True, exists=f"system {body.id!r} exists", refresh="wait_for"
    )
    return doc


async def update_system(
    client: AsyncOpenSearch, cfg: OpenSearchConfig, system_id: str, body: SystemUpdate, by: str
) -> dict[str, Any]:
    index = Index(client, systems_index(cfg))
    current = await index.get_versioned(system_id, missing=_missing(system_id))
    changes = body.model_dump(mode="json", exclude_unset=True) | {"updated_at": _now(), "updated_by": by}
    await index.update(system_id, changes, version=current, refresh="wait_for")
    return current.source | changes


async def delete_system(client: AsyncOpenSearch, cfg: OpenSearchConfig, system_id: str) -> None:
    await Index(client, systems_index(cfg)).delete(system_id, missing=_missing(system_id), refresh="wait_for")


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


def _contacts(value: str) -> list[dict[str, Any]]:
    contacts = []
    for entry in _split(value):
        name, email, phone, role = [*(p.strip() for p in entry.split("|")), "", "", ""][:4]
        contacts.append({"name": name, "email": email or None, "phone": phone or None, "role": role or None})
    return contacts


def parse_csv(text: str) -> tuple[list[SystemCreate], list[ImportProblem]]:
    """The systems of a CSV file, or the problems that refuse it (line numbers as a spreadsheet shows)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    problems: list[ImportProblem] = []
    unknown = [h for h in header if h not in COLUMNS]
    missing = [h for h in REQUIRED if h not in header]
    if unknown or missing:
        what = [f"unknown columns: {', '.join(unknown)}"] if unknown else []
        what += [f"missing columns: {', '.join(missing)}"] if missing else []
        return [], [ImportProblem(line=1, message="; ".join(what) + f" (columns: {', '.join(COLUMNS)})")]
    reader.fieldnames = header
    systems: list[SystemCreate] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if len(systems) + len(problems) >= MAX_ROWS:
            problems.append(ImportProblem(line=line, message=f"more than {MAX_ROWS} rows"))
            break
        if None in row:
            problems.append(ImportProblem(line=line, message="more values than columns"))
            continue
        values = {k: (v or "").strip() for k, v in row.items()}
        fields: dict[str, Any] = {k: values[k] for k in ("id", "name", "agency", "security_level") if values.get(k)}
        level = fields.get("security_level", "")
        if level.isdigit():
            fields["security_level"] = int(level)
        if values.get("criticality"):
            fields["criticality"] = values["criticality"].lower()
        if values.get("description"):
            fields["description"] = values["description"]
        fields["hosts"] = _split(values.get("hosts", ""))
        fields["sources"] = _split(values.get("sources", ""))
        fields["contacts"] = _contacts(values.get("contacts", ""))
        try:
            system = SystemCreate.model_validate(fields)
        except ValidationError as exc:
            detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            problems.append(ImportProblem(line=line, message=detail))
            continue
        if system.id in seen:
            problems.append(ImportProblem(line=line, message=f"id {system.id!r} is also on line {seen[system.id]}"))
            continue
        seen[system.id] = line
        systems.append(system)
    if not systems and not problems:
        problems.append(ImportProblem(line=1, message="no rows"))
    return systems, problems


async def import_systems(
    client: AsyncOpenSearch, cfg: OpenSearchConfig, systems: list[SystemCreate], by: str
) -> dict[str, list[str]]:
    """Write every system (replacing those that exist); returns which ids were new and which replaced."""
    index = Index(client, systems_index(cfg))
    existing = {d["id"] for d in await index.get_many([s.id for s in systems])} if systems else set()
    now = _now()
    for n, system in enumerate(systems, 1):
        doc = system.model_dump(mode="json")
        doc |= {"updated_at": now, "updated_by": by} if system.id in existing else {"created_at": now, "created_by": by}
        await index.put(system.id, doc, refresh="wait_for" if n == len(systems) else False)
    return {
        "created": [s.id for s in systems if s.id not in existing],
        "updated": [s.id for s in systems if s.id in existing],
    }


# Open alerts re-ranked after an inventory change, at most this many per change.
MAX_REPRIORITISED = 10_000


async def reprioritise(client: AsyncOpenSearch, cfg: OpenSearchConfig) -> int:
    """Re-place every open alert in the inventory as it is now (system and priority), so a system
    added, re-levelled or removed re-ranks the queue, not only later alerts. Only `system` and
    `priority` are written (partial updates), so analysts' concurrent changes are untouched.
    Returns how many alerts changed."""
    inventory = Inventory(await Index(client, systems_index(cfg)).read_all())
    body = {
        "size": MAX_REPRIORITISED,
        "query": {"bool": {"must_not": [{"term": {"status": Status.CLOSED.value}}]}},
        "_source": ["agency", "host", "canhgac", "indicator", "rule", "event.host", "priority", "system"],
    }
    hits = (await Index(client, cfg.alerts_index).search(body))["hits"]["hits"]
    actions: list[dict[str, Any]] = []
    for hit in hits:
        placed = dict(hit["_source"])
        place_alert(placed, inventory)
        if (placed["priority"], placed["system"]) != (hit["_source"].get("priority"), hit["_source"].get("system")):
            actions += [
                {"update": {"_id": hit["_id"], "retry_on_conflict": 3}},
                {"doc": {"priority": placed["priority"], "system": placed["system"]}},
            ]
    if actions:
        with translated():
            await client.bulk(index=cfg.alerts_index, body=actions, refresh="wait_for")
    return len(actions) // 2
