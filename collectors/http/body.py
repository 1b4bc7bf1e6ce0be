"""Request bodies: bounded reading with gzip/deflate, and parsing of the native ingest formats.

The size limit applies to the raw and to the decoded body: decompression is streamed with an
output cap, so a gzip bomb is refused after at most `max_body_bytes` of output, never expanded.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from canhgac.core.errors import InvalidRequest, TooLarge

_WBITS = {"gzip": 31, "x-gzip": 31, "deflate": 15}


class BodyTimeout(InvalidRequest):
    """The body did not arrive in time (HTTP 408); nothing of it was kept."""


def too_many_records(max_records: int) -> TooLarge:
    return TooLarge(f"more than {max_records} records in one request: send at most {max_records} per request")


async def read_body_within(
    chunks: AsyncIterator[bytes],
    *,
    timeout_secs: float,
    content_encoding: str | None,
    content_length: str | None,
    max_bytes: int,
) -> bytes:
    """read_body, with the whole body due within `timeout_secs` (a slow sender frees its slot)."""
    try:
        async with asyncio.timeout(timeout_secs):
            return await read_body(
                chunks, content_encoding=content_encoding, content_length=content_length, max_bytes=max_bytes
            )
    except TimeoutError:
        raise BodyTimeout(f"request body not received within {timeout_secs:g} s") from None


async def read_body(
    chunks: AsyncIterator[bytes], *, content_encoding: str | None, content_length: str | None, max_bytes: int
) -> bytes:
    if content_length and content_length.isdigit() and int(content_length) > max_bytes:
        raise TooLarge(f"body of {content_length} bytes is over the limit of {max_bytes}")
    encoding = (content_encoding or "identity").strip().lower()
    if encoding not in ("identity", "", *_WBITS):
        raise InvalidRequest(f"unsupported Content-Encoding {encoding!r} (use gzip, deflate or none)")
    raw_total = 0
    out = bytearray()
    inflater = zlib.decompressobj(wbits=_WBITS[encoding]) if encoding in _WBITS else None
    async for chunk in chunks:
        raw_total += len(chunk)
        if raw_total > max_bytes:
            raise TooLarge(f"body is over the limit of {max_bytes} bytes")
        if inflater is None:
            out += chunk
            continue
        while chunk:
            try:
                out += inflater.decompress(chunk, max_bytes - len(out) + 1)
            except zlib.error as exc:
                raise InvalidRequest(f"body is not valid {encoding}: {exc}") from exc
            if len(out) > max_bytes:
                raise TooLarge(f"decompressed body is over the limit of {max_bytes} bytes")
            chunk = inflater.unconsumed_tail
            if inflater.eof and inflater.unused_data:
                # Concatenated gzip members (allowed by RFC 1952): start the next one.
                chunk = inflater.unused_data + chunk
                inflater = zlib.decompressobj(wbits=_WBITS[encoding])
    if inflater is not None and not inflater.eof and raw_total:
        raise InvalidRequest(f"{encoding} body is truncated")
    return bytes(out)


@dataclass(slots=True)
class Item:
    payload: dict[str, Any] | None = None
    message: str | None = None
    error: str | None = None  # kept and flagged (invalid UTF-8 replaced)


def parse_ingest(
    body: bytes, content_type: str | None, *, max_message_bytes: int, max_records: int = 10_000
) -> list[Item]:
    """JSON (object or array), NDJSON, or plain text lines, chosen by Content-Type; at most
    `max_records` of them (TooLarge beyond, before any is kept)."""
    media = (content_type or "text/plain").split(";", 1)[0].strip().lower()
    if media in (
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonlines",
    ):
        return _ndjson(body, max_message_bytes, max_records)
    if media == "application/json" or media.endswith("+json"):
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            if b"\n" in body.strip():
                return _ndjson(body, max_message_bytes, max_records)  # NDJSON sent as application/json
            raise InvalidRequest(f"body is not valid JSON: {exc}") from exc
        values = document if isinstance(document, list) else [document]
        if len(values) > max_records:
            raise too_many_records(max_records)
        return [_json_item(v, f"element {i}") for i, v in enumerate(values)]
    if media.startswith("text/") or media == "application/octet-stream":
        return _lines(body, max_message_bytes, max_records)
    raise InvalidRequest(f"unsupported Content-Type {media!r} (JSON, NDJSON or text/plain)")


def _json_item(value: object, where: str) -> Item:
    if isinstance(value, dict):
        return Item(payload=value)
    if isinstance(value, str):
        return Item(message=value)
    raise InvalidRequest(f"{where} must be a JSON object or string, not {type(value).__name__}")


def _ndjson(body: bytes, max_message_bytes: int, max_records: int) -> list[Item]:
    items: list[Item] = []
    for number, line in enumerate(body.split(b"\n"), start=1):
        if not line.strip():
            continue
        if len(items) >= max_records:
            raise too_many_records(max_records)
        if len(line) > max_message_bytes:
            raise TooLarge(f"line {number} is longer than {max_message_bytes} bytes")
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(f"line {number} is not valid JSON: {exc}") from exc
        items.append(_json_item(value, f"line {number}"))
    return items


def _lines(body: bytes, max_message_bytes: int, max_records: int) -> list[Item]:
    items: list[Item] = []
    for number, line in enumerate(body.split(b"\n"), start=1):
        line = line.rstrip(b"\r")
        if not line.strip():
            continue
        if len(items) >= max_records:
            raise too_many_records(max_records)
        if len(line) > max_message_bytes:
            raise TooLarge(f"line {number} is longer than {max_message_bytes} bytes")
        try:
            items.append(Item(message=line.decode("utf-8")))
        except UnicodeDecodeError:
            items.append(Item(message=line.decode("utf-8", errors="replace"), error="invalid UTF-8 replaced"))
    return items
