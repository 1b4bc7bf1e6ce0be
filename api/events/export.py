"""Search results as a file: CSV or NDJSON, streamed page by page, at most `api.max_export_rows` rows.

The first page is read before the answer starts, so a refused query is a plain 400 and the
response headers can say how many rows the file holds out of how many matched (`X-Export-Rows`,
`X-Export-Total`, `X-Export-Cap`, `X-Export-Truncated`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from canhgac.api.events.models import ExportRequest
from canhgac.api.events.service import TIME_FIELD, _query, default_window, events_pattern
from canhgac.api.query_guard import check_field
from canhgac.api.search import run_search
from canhgac.core.config import Settings
from canhgac.core.errors import InvalidRequest
from canhgac.core.event import get_path
from opensearchpy import AsyncOpenSearch

PAGE_ROWS = 1000
DEFAULT_COLUMNS = (
    "@timestamp",
    "canhgac.agency",
    "canhgac.source_id",
    "event.dataset",
    "host.name",
    "source.ip",
    "user.name",
    "event.action",
    "message",
)
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}
# A spreadsheet runs a cell starting with these as a formula: an attacker's log line must not.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(slots=True)
class Export:
    total: int
    rows: int
    cap: int
    body: AsyncIterator[bytes]

    @property
    def truncated(self) -> bool:
        return self.rows < self.total


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        text = orjson.dumps(value).decode()
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_rows(events: list[dict[str, Any]], columns: tuple[str, ...], header: bool) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(columns)
    for event in events:
        writer.writerow([cell(get_path(event, c)) for c in columns])
    return out.getvalue().encode()


def ndjson_rows(events: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(e) + b"\n" for e in events)


async def export_events(
    client: AsyncOpenSearch, settings: Settings, request: ExportRequest, agency: str | None
) -> Export:
    cap = settings.api.max_export_rows
    limit = request.limit or cap
    if limit > cap:
        raise InvalidRequest(f"limit too large: an export holds at most {cap} rows (api.max_export_rows)")
    columns = tuple(check_field(f) for f in request.fields) if request.fields else DEFAULT_COLUMNS
    start, end = default_window(request.start, request.end)
    body: dict[str, Any] = {
        "query": _query(settings, request.query, start, end, agency),
        "sort": [
            {TIME_FIELD: {"order": "desc", "unmapped_type": "date"}},
            {"event.id": {"order": "asc", "unmapped_type": "keyword"}},
        ],
        "size": min(PAGE_ROWS, limit),
        "track_total_hits": True,
        "timeout": "30s",
    }
    pattern = events_pattern(settings)
    first = await run_search(client, pattern, body)
    total = int(first["hits"]["total"]["value"])
    rows = min(total, limit)

    async def stream() -> AsyncIterator[bytes]:
        hits, sent, page = first["hits"]["hits"], 0, 0
        while hits and sent < rows:
            events = [h["_source"] for h in hits[: rows - sent]]
            yield csv_rows(events, columns, header=page == 0) if request.format == "csv" else ndjson_rows(events)
            sent += len(events)
            page += 1
            if sent >= rows or len(hits) < body["size"]:
                break
            body["search_after"] = hits[-1]["sort"]
            body["size"] = min(PAGE_ROWS, rows - sent)
            hits = (await run_search(client, pattern, body))["hits"]["hits"]
        if page == 0 and request.format == "csv":
            yield csv_rows([], columns, header=True)

    return Export(total=total, rows=rows, cap=limit, body=stream())
