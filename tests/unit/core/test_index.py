"""canhgac.core.index: opensearch-py's errors become ours, in one place.

A scripted connection stands in for OpenSearch: opensearch-py itself turns each scripted HTTP
answer into its exception (as it would a real one), and the wrapper must translate that."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

import pytest
from canhgac.core.errors import BackendUnavailable, CanhgacError, Conflict, InvalidRequest, NotFound
from canhgac.core.index import Index, create_index, translated
from opensearchpy import AsyncOpenSearch
from opensearchpy._async.http_aiohttp import AsyncConnection
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import ConnectionTimeout, TransportError

Answer = tuple[int, dict[str, Any]] | Exception


def error_body(status: int, kind: str, reason: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason}}


class ScriptedConnection(AsyncConnection):
    """Answers every request with the scripted answer, and keeps what was asked."""

    def __init__(self, answers: list[Answer], requests: list[tuple[str, str, dict[str, Any]]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.answers = answers
        self.requests = requests

    async def perform_request(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None = None,
        body: bytes | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (the signature opensearch-py calls)
        ignore: Collection[int] = (),
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        decoded = {k: v.decode() if isinstance(v, bytes) else v for k, v in (params or {}).items()}
        self.requests.append((method, url, decoded))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        status, data = answer
        raw = json.dumps(data)
        if not 200 <= status < 300 and status not in ignore:
            self._raise_error(status, raw, "application/json")
        return status, {"content-type": "application/json"}, raw

    async def close(self) -> None:
        return None


class Backend:
    def __init__(self, *answers: Answer) -> None:
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.client = AsyncOpenSearch(
            hosts=[{"host": "opensearch.invalid", "port": 9200}],
            connection_class=ScriptedConnection,
            max_retries=0,
            answers=list(answers),
            requests=self.requests,
        )

    def index(self, name: str = "things") -> Index:
        return Index(self.client, name)


REFUSED_CONNECTION = OSConnectionError("N/A", "Connection refused", OSError("refused"))
TIMED_OUT = ConnectionTimeout("TIMEOUT", "timed out", TimeoutError())
MISSING_DOC = (404, {"_index": "things", "_id": "a", "found": False})
MISSING_INDEX = error_body(404, "index_not_found_exception", "no such index [things]")
TAKEN = error_body(409, "version_conflict_engine_exception", "[a]: document already exists")
BAD_QUERY = error_body(400, "query_shard_exception", "Failed to parse query [a:(]")
BAD_WRITE = error_body(400, "mapper_parsing_exception", "failed to parse field [created_at]")
FORBIDDEN = error_body(403, "security_exception", "no permissions for [indices:data/read/search]")
READ_ONLY = error_body(403, "cluster_block_exception", "index [things] blocked by: [FORBIDDEN/8/index write]")
BUSY = error_body(429, "es_rejected_execution_exception", "rejected execution")
BROKEN = error_body(503, "no_shard_available_action_exception", "No shard available")


@pytest.mark.parametrize(
    ("answer", "expected", "words"),
    [
        (REFUSED_CONNECTION, BackendUnavailable, "unreachable"),
        (TIMED_OUT, BackendUnavailable, "unreachable"),
        (MISSING_DOC, NotFound, "no thing a"),
        (MISSING_INDEX, NotFound, "no thing a"),
        (FORBIDDEN, BackendUnavailable, "no permissions"),
        (BUSY, BackendUnavailable, "rejected execution"),
        (BROKEN, BackendUnavailable, "No shard available"),
        (BAD_WRITE, BackendUnavailable, "failed to parse field"),
    ],
)
async def test_get_translates(answer: Answer, expected: type[CanhgacError], words: str) -> None:
    with pytest.raises(expected) as caught:
        await Backend(answer).index().get("a", missing="no thing a")
    assert type(caught.value) is expected
    assert words in caught.value.message
    assert isinstance(caught.value.__cause__, TransportError)  # the cause is kept for the log


async def test_get_and_find_return_the_source_or_none() -> None:
    found = (200, {"_index": "things", "_id": "a", "found": True, "_source": {"name": "a"}})
    assert await Backend(found).index().get("a") == {"name": "a"}
    assert await Backend(found).index().find("a") == {"name": "a"}
    assert await Backend(MISSING_DOC).index().find("a") is None
    assert await Backend(MISSING_INDEX).index().find("a") is None
    with pytest.raises(BackendUnavailable):
        await Backend(REFUSED_CONNECTION).index().find("a")  # unreachable is not "absent"


async def test_get_many_keeps_the_found_documents() -> None:
    docs = {"docs": [{"_id": "a", "found": True, "_source": {"n": 1}}, {"_id": "b", "found": False}]}
    backend = Backend((200, docs))
    assert await backend.index().get_many(["a", "b"]) == [{"n": 1}]
    assert backend.requests[0][:2] == ("POST", "/things/_mget")
    assert await Backend(MISSING_INDEX).index().get_many(["a"]) == []
    with pytest.raises(BackendUnavailable):
        await Backend(BROKEN).index().get_many(["a"])


@pytest.mark.parametrize(
    ("answer", "expected", "words"),
    [
        (BAD_QUERY, InvalidRequest, "query refused: Failed to parse query [a:(]"),
        (REFUSED_CONNECTION, BackendUnavailable, "unreachable"),
        (FORBIDDEN, BackendUnavailable, "no permissions"),  # our credentials, not the caller's query
        (BUSY, BackendUnavailable, "rejected execution"),
        (BROKEN, BackendUnavailable, "No shard available"),
    ],
)
async def test_search_translates(answer: Answer, expected: type[CanhgacError], words: str) -> None:
    with pytest.raises(expected) as caught:
        await Backend(answer).index().search({"query": {"query_string": {"query": "a:("}}})
    assert type(caught.value) is expected
    assert words in caught.value.message


async def test_search_of_a_missing_index_is_empty_and_tolerates_missing_indices() -> None:
    backend = Backend(MISSING_INDEX)
    result = await backend.index("logs-*").search({"query": {"match_all": {}}})
    assert result["hits"]["hits"] == [] and result["hits"]["total"]["value"] == 0
    method, url, params = backend.requests[0]
    assert (method, url) == ("POST", "/logs-*/_search")
    assert params["ignore_unavailable"] == "true" and params["allow_no_indices"] == "true"


# What OpenSearch answers a search that meets a shard still starting (a data stream created a
# moment ago by the indexer): no failed shard named, no root cause.
SHARDS_STARTING = (
    503,
    {
        "error": {
            "root_cause": [],
            "type": "search_phase_execution_exception",
            "reason": "all shards failed",
            "phase": "query",
            "grouped": True,
            "failed_shards": [],
        },
        "status": 503,
    },
)
EMPTY_HITS = (200, {"hits": {"total": {"value": 0, "relation": "eq"}, "hits": []}})


async def test_a_search_meeting_a_shard_still_starting_is_asked_again() -> None:
    backend = Backend(SHARDS_STARTING, SHARDS_STARTING, EMPTY_HITS)
    result = await backend.index("logs-*").search({"query": {"match_all": {}}})
    assert result["hits"]["hits"] == []
    assert len(backend.requests) == 3


async def test_a_shard_that_never_starts_is_the_backends_fault() -> None:
    backend = Backend(SHARDS_STARTING)
    with pytest.raises(BackendUnavailable) as caught:
        await backend.index("logs-*").search({"query": {"match_all": {}}})
    assert "all shards failed" in caught.value.message
    assert len(backend.requests) == 4  # the first ask and three more, then the 503 is the answer


async def test_read_all_gives_ids_and_treats_a_refusal_as_the_backends_fault() -> None:
    hits = {"hits": {"total": {"value": 1}, "hits": [{"_id": "r1", "_source": {"enabled": False}}]}}
    assert await Backend((200, hits)).index().read_all() == [{"id": "r1", "enabled": False}]
    assert await Backend(MISSING_INDEX).index().read_all() == []
    with pytest.raises(BackendUnavailable):  # the query is ours: never a 400 for the caller
        await Backend(BAD_QUERY).index().read_all()


async def test_put_create_conflict_uses_the_callers_words() -> None:
    backend = Backend(TAKEN)
    with pytest.raises(Conflict, match="user a already exists"):
        await backend.index().put("a", {"name": "a"}, create=True, exists="user a already exists", refresh="wait_for")
    method, url, params = backend.requests[0]
    assert (method, url) == ("PUT", "/things/_doc/a")
    assert params["op_type"] == "create" and params["refresh"] == "wait_for"


async def test_put_without_create_overwrites_and_a_block_is_unavailable() -> None:
    backend = Backend((200, {"result": "updated"}))
    await backend.index().put("a", {"name": "a"})
    assert backend.requests[0][:2] == ("PUT", "/things/_doc/a")
    assert "refresh" not in backend.requests[0][2]
    with pytest.raises(BackendUnavailable, match="blocked"):
        await Backend(READ_ONLY).index().put("a", {"name": "a"})


async def test_update_missing_document() -> None:
    missing = error_body(404, "document_missing_exception", "[a]: document missing")
    with pytest.raises(NotFound, match="no source a"):
        await Backend(missing).index().update("a", {"x": 1}, missing="no source a")
    backend = Backend((200, {"result": "updated"}))
    await backend.index().update("a", {"x": 1}, upsert=True, retry_on_conflict=3)
    assert backend.requests[0][2]["retry_on_conflict"] == "3"


async def test_conditional_update_conflicts_when_written_meanwhile() -> None:
    found = (200, {"_id": "a", "_seq_no": 7, "_primary_term": 2, "found": True, "_source": {"n": 1}})
    doc = await Backend(found).index().get_versioned("a")
    assert doc == ({"n": 1}, 7, 2)
    stale = error_body(409, "version_conflict_engine_exception", "[a]: version conflict, required seqNo [7]")
    backend = Backend(stale)
    with pytest.raises(Conflict, match="changed meanwhile"):
        await backend.index().update("a", {"n": 2}, version=doc)
    assert backend.requests[0][2]["if_seq_no"] == "7" and backend.requests[0][2]["if_primary_term"] == "2"


async def test_delete_missing_is_an_answer_or_an_error_as_the_caller_says() -> None:
    await Backend(MISSING_DOC).index().delete("a")  # already gone is what was wanted
    with pytest.raises(NotFound, match="no exception a"):
        await Backend(MISSING_DOC).index().delete("a", missing="no exception a")
    with pytest.raises(BackendUnavailable):
        await Backend(REFUSED_CONNECTION).index().delete("a")


async def test_delete_by_query_of_a_missing_index_is_nothing() -> None:
    await Backend(MISSING_INDEX).index().delete_by_query({"match_all": {}})
    backend = Backend((200, {"task": "n:1"}))
    await backend.index().delete_by_query({"match_all": {}}, wait=False)
    assert backend.requests[0][2] == {"conflicts": "proceed", "wait_for_completion": "false"}
    with pytest.raises(BackendUnavailable):
        await Backend(BROKEN).index().delete_by_query({"match_all": {}})


async def test_count() -> None:
    assert await Backend((200, {"count": 7})).index().count() == 7
    assert await Backend(MISSING_INDEX).index().count() == 0
    with pytest.raises(InvalidRequest):
        await Backend(BAD_QUERY).index().count({"query_string": {"query": "a:("}})


async def test_create_index_tolerates_a_concurrent_creation_only() -> None:
    already = error_body(400, "resource_already_exists_exception", "index [things/x] already exists")
    await create_index(Backend((404, {}), already).client, "things")
    with pytest.raises(BackendUnavailable, match="invalid_index_name"):
        bad_name = error_body(400, "invalid_index_name_exception", "invalid_index_name: must be lowercase")
        await create_index(Backend((404, {}), bad_name).client, "Things")


async def test_translated_for_other_calls() -> None:
    client = Backend(BROKEN).client
    with pytest.raises(BackendUnavailable), translated():
        await client.indices.put_index_template(name="t", body={})
    with pytest.raises(ValueError), translated():  # not a backend error: left alone
        raise ValueError("ours")
