"""The Elasticsearch `_bulk` wire format: parse the NDJSON request, shape the per-item response.

Only `index` and `create` carry documents into Canhgac; `update` and `delete` get a per-item 400
(a log pipeline has nothing to update), which shippers log and skip. A malformed action line fails
the whole request with 400, as Elasticsearch does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from canhgac.core.errors import InvalidRequest, TooLarge

_ACTIONS = ("index", "create", "update", "delete")


@dataclass(slots=True)
class BulkOp:
    action: str
    index: str | None
    doc_id: str | None
    doc: dict[str, Any] | None = None
    error: tuple[int, str, str] | None = None  # status, type, reason


def parse_bulk(
    body: bytes, *, default_index: str | None, max_message_bytes: int, max_records: int = 10_000
) -> list[BulkOp]:
    """The actions of a `_bulk` body; more than `max_records` of them is TooLarge (nothing kept)."""
    lines = [line for line in body.split(b"\n") if line.strip()]
    ops: list[BulkOp] = []
    i = 0
    while i < len(lines):
        if len(ops) >= max_records:
            raise TooLarge(f"more than {max_records} actions in one request: send at most {max_records} per request")
        number = i + 1
        try:
            action_line = orjson.loads(lines[i])
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(f"Malformed action/metadata line [{number}]: {exc}") from exc
        if not isinstance(action_line, dict) or len(action_line) != 1:
            raise InvalidRequest(f"Malformed action/metadata line [{number}], expected one action object")
        action, meta = next(iter(action_line.items()))
        if action not in _ACTIONS or not isinstance(meta, dict):
            raise InvalidRequest(f"Action/metadata line [{number}] contains an unknown parameter [{action}]")
        index = meta.get("_index") or default_index
        doc_id = meta.get("_id")
        op = BulkOp(action, str(index) if index is not None else None, str(doc_id) if doc_id is not None else None)
        i += 1
        if action != "delete":
            if i >= len(lines):
                raise InvalidRequest(f"action line [{number}] has no source line after it")
            source = lines[i]
            i += 1
            if action == "update":
                op.error = (400, "illegal_argument_exception", "canhgac ingest accepts index and create only")
            elif len(source) > max_message_bytes:
                op.error = (413, "too_large", f"document longer than {max_message_bytes} bytes")
            else:
                op.doc, op.error = _document(source)
        else:
            op.error = (400, "illegal_argument_exception", "canhgac ingest accepts index and create only")
        if op.index is None and op.error is None:
            op.error = (400, "action_request_validation_exception", "Validation Failed: 1: index is missing;")
        ops.append(op)
    if not ops:
        raise InvalidRequest("request body is required")
    return ops


def _document(source: bytes) -> tuple[dict[str, Any] | None, tuple[int, str, str] | None]:
    try:
        doc = orjson.loads(source)
    except orjson.JSONDecodeError as exc:
        return None, (400, "mapper_parsing_exception", f"failed to parse: {exc}")
    if not isinstance(doc, dict):
        return None, (400, "mapper_parsing_exception", "document must be a JSON object")
    return doc, None


def item_result(op: BulkOp, *, doc_id: str, seq_no: int) -> dict[str, Any]:
    shape: dict[str, Any] = {"_index": op.index, "_type": "_doc", "_id": op.doc_id or doc_id}
    if op.error is not None:
        status, kind, reason = op.error
        shape["status"] = status
        shape["error"] = {"type": kind, "reason": reason}
    else:
        shape.update(
            _version=1,
            result="created",
            _shards={"total": 1, "successful": 1, "failed": 0},
            _seq_no=seq_no,
            _primary_term=1,
            status=201,
        )
    return {op.action: shape}


def es_error(status: int, kind: str, reason: str) -> dict[str, Any]:
    return {
        "error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
        "status": status,
    }


__all__ = ["BulkOp", "TooLarge", "es_error", "item_result", "parse_bulk"]
