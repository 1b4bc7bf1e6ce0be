"""Shared search plumbing: time ranges, cursors, and OpenSearch errors turned into clear answers."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import orjson
from canhgac.core.errors import BackendUnavailable, InvalidRequest
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import NotFoundError, RequestError, TransportError

MAX_FROM = 10_000  # OpenSearch's index.max_result_window: deeper pages go through the cursor


def time_range(field: str, start: datetime | None, end: datetime | None) -> dict[str, Any] | None:
    if start and end and start > end:
        raise InvalidRequest("start is after end")
    bounds: dict[str, str] = {}
    if start:
        bounds["gte"] = start.isoformat()
    if end:
        bounds["lte"] = end.isoformat()
    return {"range": {field: bounds}} if bounds else None


def encode_cursor(sort_values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(sort_values)).decode()


def decode_cursor(cursor: str) -> list[Any]:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidRequest("cursor is not valid; use the `next` value of a previous page") from exc
    if not isinstance(values, list):
        raise InvalidRequest("cursor is not valid; use the `next` value of a previous page")
    return values


async def run_search(client: Any, index: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        result: dict[str, Any] = await client.search(
            index=index, body=body, ignore_unavailable=True, allow_no_indices=True
        )
        return result
    except NotFoundError:
        return {"hits": {"total": {"value": 0}, "hits": []}}
    except RequestError as exc:
        raise InvalidRequest(f"query refused: {_reason(exc)}") from exc
    except OSConnectionError as exc:
        raise BackendUnavailable("OpenSearch is unreachable") from exc
    except TransportError as exc:
        if isinstance(exc.status_code, int) and exc.status_code < 500:
            raise InvalidRequest(f"query refused: {_reason(exc)}") from exc
        raise BackendUnavailable(f"OpenSearch error: {_reason(exc)}") from exc


def _reason(exc: TransportError) -> str:
    info: dict[str, Any] = exc.info if isinstance(exc.info, dict) else {}
    raw_error = info.get("error")
    error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
    causes = error.get("root_cause") or []
    if causes and isinstance(causes[0], dict):
        return str(causes[0].get("reason") or causes[0].get("type"))
    return str(error.get("reason") or exc.error)
