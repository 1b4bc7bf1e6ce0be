"""OpenSearch bulk writes handled item by item (Vector's model).

An item is done when it was written (201/200) or is already there (409 on create: a replay).
429 and 5xx items are retried alone, with backoff; other errors are permanent and returned so
the caller can send them to the DLQ with the reason. A failure of the whole request is retriable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from canhgac.core.errors import BackendUnavailable
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import ConnectionTimeout, TransportError


@dataclass(slots=True)
class BulkItem:
    action: dict[str, Any]  # e.g. {"create": {"_index": …, "_id": …}}
    source: dict[str, Any] | bytes | None  # bytes: already-serialised JSON, sent as is
    key: bytes | None = None  # for the DLQ record


@dataclass(slots=True)
class BulkOutcome:
    written: int = 0
    duplicates: int = 0
    failed: list[tuple[BulkItem, str]] | None = None  # permanent failures with reason
    retries: int = 0


def _is_retriable(status: int) -> bool:
    return status == 429 or status >= 500


async def bulk_write(
    client: AsyncOpenSearch,
    items: Sequence[BulkItem],
    *,
    max_retries: int,
    backoff_max_secs: float = 10.0,
    refresh: bool = False,
) -> BulkOutcome:
    outcome = BulkOutcome(failed=[])
    pending = list(items)
    delay = 0.1
    attempt = 0
    while pending:
        body = bytearray()
        for item in pending:
            body += orjson.dumps(item.action) + b"\n"
            if isinstance(item.source, bytes):
                body += item.source + b"\n"
            elif item.source is not None:
                body += orjson.dumps(item.source, option=orjson.OPT_NON_STR_KEYS) + b"\n"
        try:
            response = await client.bulk(body=bytes(body), refresh="wait_for" if refresh else "false")
        except (OSConnectionError, ConnectionTimeout) as exc:
            raise BackendUnavailable(f"OpenSearch bulk request failed: {exc}") from exc
        except TransportError as exc:
            if isinstance(exc.status_code, int) and _is_retriable(exc.status_code):
                raise BackendUnavailable(f"OpenSearch bulk refused: {exc}") from exc
            raise
        retry: list[BulkItem] = []
        for item, result in zip(pending, response["items"], strict=True):
            (op_result,) = result.values()
            status = int(op_result.get("status", 500))
            if status in (200, 201):
                outcome.written += 1
            elif status == 409 and "create" in item.action:
                outcome.duplicates += 1
            elif _is_retriable(status):
                retry.append(item)
            else:
                error = op_result.get("error") or {}
                reason = f"{status} {error.get('type', '')}: {error.get('reason', '')}".strip()
                assert outcome.failed is not None
                outcome.failed.append((item, reason))
        pending = retry
        if pending:
            attempt += 1
            outcome.retries += len(pending)
            if attempt > max_retries:
                raise BackendUnavailable(f"{len(pending)} bulk items still refused after {max_retries} retries")
            await asyncio.sleep(delay)
            delay = min(delay * 2, backoff_max_secs)
    return outcome
