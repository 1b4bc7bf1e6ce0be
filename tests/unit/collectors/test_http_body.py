"""HTTP bodies: size limits before and after gunzip (gzip bomb), formats, `_bulk` parsing, auth headers."""

from __future__ import annotations

import base64
import gzip
import hashlib

import pytest
from canhgac.collectors.base import SourceDirectory
from canhgac.collectors.http.auth import AuthError, authenticate, credentials
from canhgac.collectors.http.body import parse_ingest, read_body
from canhgac.collectors.http.bulk import item_result, parse_bulk
from canhgac.core.config import SourceConfig
from canhgac.core.errors import InvalidRequest, TooLarge


async def chunks(data: bytes, size: int = 1000):  # type: ignore[no-untyped-def]
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def body(data: bytes, encoding: str | None = None, limit: int = 10_000) -> bytes:
    return await read_body(chunks(data), content_encoding=encoding, content_length=None, max_bytes=limit)


async def test_gzip_bomb_is_refused_without_expanding_it() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)
    assert len(bomb) < 100_000
    with pytest.raises(TooLarge, match="decompressed"):
        await body(bomb, "gzip", limit=1_000_000 // 10 * 2)


async def test_limits_encodings_and_truncation() -> None:
    assert await body(gzip.compress(b"abc") + gzip.compress(b"def"), "gzip") == b"abcdef"  # two members
    with pytest.raises(TooLarge):
        await body(b"x" * 10_001)
    with pytest.raises(TooLarge):
        await read_body(chunks(b""), content_encoding=None, content_length="99999", max_bytes=10)
    with pytest.raises(InvalidRequest, match="truncated"):
        await body(gzip.compress(b"abc" * 100)[:20], "gzip")
    with pytest.raises(InvalidRequest, match="Content-Encoding"):
        await body(b"x", "br")


def test_ingest_formats() -> None:
    assert [i.payload for i in parse_ingest(b'{"a":1}', "application/json", max_message_bytes=100)] == [{"a": 1}]
    items = parse_ingest(b'[{"a":1},"text"]', "application/json; charset=utf-8", max_message_bytes=100)
    assert items[0].payload == {"a": 1} and items[1].message == "text"
    assert len(parse_ingest(b'{"a":1}\n{"b":2}\n', "application/json", max_message_bytes=100)) == 2  # NDJSON as JSON
    lines = parse_ingest(b"one\r\n\n two \n\xff", "text/plain", max_message_bytes=100)
    assert [i.message for i in lines] == ["one", " two ", "\ufffd"] and lines[2].error
    with pytest.raises(InvalidRequest, match="line 2"):
        parse_ingest(b'{"a":1}\n[1]\n', "application/x-ndjson", max_message_bytes=100)
    with pytest.raises(TooLarge):
        parse_ingest(b"x" * 101, "text/plain", max_message_bytes=100)
    with pytest.raises(InvalidRequest):
        parse_ingest(b"42", "application/json", max_message_bytes=100)


def test_bulk_parsing_and_item_results() -> None:
    ops = parse_bulk(
        b'{"index":{"_index":"a","_id":"x"}}\n{"m":1}\n{"delete":{"_index":"a","_id":"y"}}\n'
        b'{"create":{}}\n{"m":2}\n{"update":{"_index":"a","_id":"x"}}\n{"doc":{}}\n{"create":{"_index":"b"}}\nnot json\n',
        default_index="dflt",
        max_message_bytes=1000,
    )
    assert [(o.action, o.index, o.error[0] if o.error else None) for o in ops] == [
        ("index", "a", None),
        ("delete", "a", 400),
        ("create", "dflt", None),
        ("update", "a", 400),
        ("create", "b", 400),
    ]
    ok = item_result(ops[0], doc_id="gen", seq_no=0)["index"]
    assert ok["_id"] == "x" and ok["status"] == 201 and ok["result"] == "created"
    assert item_result(ops[2], doc_id="gen", seq_no=2)["create"]["_id"] == "gen"
    with pytest.raises(InvalidRequest, match="Malformed"):
        parse_bulk(b"nope\n", default_index=None, max_message_bytes=10)
    with pytest.raises(InvalidRequest, match="no source line"):
        parse_bulk(b'{"index":{"_index":"a"}}\n', default_index=None, max_message_bytes=10)
    missing = parse_bulk(b'{"index":{}}\n{"a":1}\n', default_index=None, max_message_bytes=100)
    assert missing[0].error and missing[0].error[0] == 400


def test_credentials_from_every_header_shippers_use() -> None:
    b64 = base64.b64encode(b"src:key").decode()
    assert credentials({"authorization": f"Basic {b64}"}) == ("src", "key")
    assert credentials({"authorization": f"ApiKey {b64}"}) == ("src", "key")
    assert credentials({"authorization": "Bearer key"}) == (None, "key")
    assert credentials({"x-canhgac-key": "key"}) == (None, "key")
    assert credentials({}) == (None, None)


def test_authenticate_statuses() -> None:
    key = "z" * 43
    src = SourceConfig(
        id="s",
        agency="a",
        ingest_key_sha256=hashlib.sha256(key.encode()).hexdigest(),
        allowed_addresses=("10.0.0.0/8",),
    )
    directory = SourceDirectory([src], transport="http")
    assert authenticate(directory, {"authorization": f"Bearer {key}"}, "10.1.2.3", path_source_id="s") is src
    for headers, ip, path, status in (
        ({}, "10.1.2.3", "s", 401),
        ({"authorization": "Bearer nope"}, "10.1.2.3", "s", 401),
        ({"authorization": f"Bearer {key}"}, "10.1.2.3", "other", 401),
        ({"authorization": f"Bearer {key}"}, "192.0.2.1", "s", 403),
    ):
        with pytest.raises(AuthError) as err:
            authenticate(directory, headers, ip, path_source_id=path)
        assert err.value.status == status
