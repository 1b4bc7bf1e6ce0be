"""One OpenSearch index (or index pattern), with opensearch-py's errors translated once into ours.

Every caller used to catch `ConnectionError`, `TransportError`, `NotFoundError` … by hand and
pick an error of `canhgac.core.errors`; the translation lives here instead:

| OpenSearch says                                   | we raise                                        |
| ------------------------------------------------- | ----------------------------------------------- |
| unreachable, timed out, 429, 5xx, 401/403          | `BackendUnavailable` (retriable)                |
| 404 (document or index missing)                    | `NotFound` with the caller's words, or an empty |
|                                                    | answer where absence is one (`find`, `search`)  |
| 409 (exists already, changed meanwhile)            | `Conflict` with the caller's words              |
| any other 4xx on a search                          | `InvalidRequest`: the query is the caller's     |
| any other 4xx elsewhere                            | `BackendUnavailable`: we built that request     |

A search that meets only shards still starting (a data stream the indexer created a moment ago)
is asked again a few times before its 503 counts; every other error is translated at once.

401 and 403 mean our own credentials or a blocked (read-only) index: an operator's problem, never
the caller's. The API maps these errors to HTTP in one place (canhgac.api.errors).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal, NamedTuple

from canhgac.core.errors import BackendUnavailable, CanhgacError, Conflict, InvalidRequest, NotFound
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import TransportError

log = logging.getLogger(__name__)

# A search that meets a shard still starting is asked again after these pauses (a new data stream's
# primary starts within a few hundred milliseconds); past them the 503 is the answer.
SHARDS_STARTING_DELAYS_SECS = (0.1, 0.3, 1.0)

# Config indices hold a handful of documents each; thousands would be a sign of misuse, not a need.
MAX_CONFIG_DOCS = 10_000

Refresh = bool | Literal["wait_for"]


class Versioned(NamedTuple):
    """A document with what optimistic concurrency needs to write it back (`Index.update`)."""

    source: dict[str, Any]
    seq_no: int
    primary_term: int


def reason(exc: TransportError) -> str:
    """OpenSearch's own words for a refusal (the root cause's reason), else the error's name."""
    info: dict[str, Any] = exc.info if isinstance(exc.info, dict) else {}
    raw_error = info.get("error")
    error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
    causes = error.get("root_cause") or []
    if causes and isinstance(causes[0], dict):
        return str(causes[0].get("reason") or causes[0].get("type"))
    return str(error.get("reason") or exc.error)


def _shards_starting(exc: TransportError) -> bool:
    """OpenSearch's answer to a search that met only shards not started yet: a data stream or index
    created a moment ago (the indexer's first event of a dataset). It names no failed shard."""
    if exc.status_code != 503 or exc.error != "search_phase_execution_exception":
        return False
    error = exc.info.get("error") if isinstance(exc.info, dict) else None
    return isinstance(error, dict) and not error.get("failed_shards") and not error.get("root_cause")


def translate(
    exc: TransportError, *, missing: str | None = None, exists: str | None = None, query: bool = False
) -> CanhgacError:
    """The error of ours that `exc` means (see the module's table). `missing` and `exists` are the
    caller's words for a 404 and a 409; `query` says the request carries the caller's query."""
    if isinstance(exc, OSConnectionError):
        return BackendUnavailable(f"OpenSearch is unreachable: {exc.error}")
    status = exc.status_code if isinstance(exc.status_code, int) else None
    if status == 404:
        return NotFound(missing or f"not found: {reason(exc)}")
    if status == 409:
        return Conflict(exists or f"changed meanwhile, try again: {reason(exc)}")
    if status is None or status >= 500 or status in (401, 403, 429):
        return BackendUnavailable(f"OpenSearch error ({status or 'no status'}): {reason(exc)}")
    if query:
        return InvalidRequest(f"query refused: {reason(exc)}")
    return BackendUnavailable(f"OpenSearch refused the request ({status}): {reason(exc)}")


@contextmanager
def translated(*, missing: str | None = None, exists: str | None = None, query: bool = False) -> Iterator[None]:
    """`with translated(): await client.…` for the calls `Index` does not cover (index setup …)."""
    try:
        yield
    except TransportError as exc:
        raise translate(exc, missing=missing, exists=exists, query=query) from exc


async def create_index(client: AsyncOpenSearch, name: str) -> None:
    """Create the index unless it exists; another replica (or process) creating it meanwhile is fine."""
    try:
        if not await client.indices.exists(index=name):
            await client.indices.create(index=name)
    except TransportError as exc:
        if exc.status_code == 400 and exc.error == "resource_already_exists_exception":
            return
        raise translate(exc) from exc


def _refresh(refresh: Refresh) -> dict[str, Any]:
    return {"refresh": refresh} if refresh else {}


class Index:
    """The calls the API and the config readers make on one index, each raising only our errors.
    It holds no state beyond the client and the name: make one wherever a call is needed."""

    def __init__(self, client: AsyncOpenSearch, name: str) -> None:
        self.client = client
        self.name = name

    async def get(self, doc_id: str, *, missing: str | None = None) -> dict[str, Any]:
        """The document's `_source`; `NotFound(missing)` when it (or the index) does not exist."""
        with translated(missing=missing):
            found = await self.client.get(index=self.name, id=doc_id)
        source: dict[str, Any] = found["_source"]
        return source

    async def get_versioned(self, doc_id: str, *, missing: str | None = None) -> Versioned:
        """The document and its version (`_seq_no`, `_primary_term`), for a conditional update."""
        with translated(missing=missing):
            found = await self.client.get(index=self.name, id=doc_id)
        return Versioned(found["_source"], found["_seq_no"], found["_primary_term"])

    async def find(self, doc_id: str) -> dict[str, Any] | None:
        """The document's `_source`, or None when it (or the index) does not exist."""
        try:
            return await self.get(doc_id)
        except NotFound:
            return None

    async def get_many(self, doc_ids: list[str]) -> list[dict[str, Any]]:
        """The `_source` of each document that exists, in the order asked (one request)."""
        try:
            with translated():
                found = await self.client.mget(index=self.name, body={"ids": doc_ids})
        except NotFound:  # the index does not exist yet
            return []
        return [doc["_source"] for doc in found.get("docs", []) if doc.get("found")]

    async def search(self, body: dict[str, Any], **params: Any) -> dict[str, Any]:
        """The raw search result; an index that does not exist yet holds nothing. A refused query
        (bad syntax, too many clauses …) is `InvalidRequest`: the query is the caller's."""
        return await self._search(body, query=True, **params)

    async def _search(self, body: dict[str, Any], *, query: bool, **params: Any) -> dict[str, Any]:
        for delay in (*SHARDS_STARTING_DELAYS_SECS, None):
            try:
                result: dict[str, Any] = await self.client.search(
                    index=self.name, body=body, ignore_unavailable=True, allow_no_indices=True, **params
                )
            except TransportError as exc:
                if delay is not None and _shards_starting(exc):
                    await asyncio.sleep(delay)
                    continue
                error = translate(exc, query=query)
                if isinstance(error, NotFound):
                    return {"hits": {"total": {"value": 0, "relation": "eq"}, "hits": []}}
                raise error from exc
            return result
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def read_all(self, query: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every document of a (small) config index, with `_id` as `id` when missing; [] when the
        index does not exist yet. The query is ours: a refusal is `BackendUnavailable`."""
        body = {"size": MAX_CONFIG_DOCS, "query": query or {"match_all": {}}}
        result = await self._search(body, query=False)
        hits = result["hits"]["hits"]
        if len(hits) == MAX_CONFIG_DOCS:
            log.warning(
                "%s holds more than %d documents; only the first %d are used",
                self.name,
                MAX_CONFIG_DOCS,
                MAX_CONFIG_DOCS,
            )
        return [{"id": h["_id"], **h["_source"]} for h in hits]

    async def put(
        self,
        doc_id: str,
        doc: dict[str, Any],
        *,
        create: bool = False,
        exists: str | None = None,
        refresh: Refresh = False,
    ) -> None:
        """Write the whole document; with `create`, `Conflict(exists)` when the id is taken."""
        params: dict[str, Any] = {"op_type": "create"} if create else {}
        with translated(exists=exists):
            await self.client.index(index=self.name, id=doc_id, body=doc, **params, **_refresh(refresh))

    async def update(
        self,
        doc_id: str,
        changes: dict[str, Any],
        *,
        upsert: bool = False,
        missing: str | None = None,
        refresh: Refresh = False,
        retry_on_conflict: int = 0,
        version: Versioned | None = None,
    ) -> None:
        """Merge `changes` into the document (creating it with `upsert`); `NotFound(missing)` else.
        With `version` (from `get_versioned`), `Conflict` when someone wrote it meanwhile."""
        body: dict[str, Any] = {"doc": changes} | ({"doc_as_upsert": True} if upsert else {})
        params: dict[str, Any] = {"retry_on_conflict": retry_on_conflict} if retry_on_conflict else {}
        if version is not None:
            params |= {"if_seq_no": version.seq_no, "if_primary_term": version.primary_term}
        with translated(missing=missing):
            await self.client.update(index=self.name, id=doc_id, body=body, **params, **_refresh(refresh))

    async def delete(self, doc_id: str, *, missing: str | None = None, refresh: Refresh = False) -> None:
        """Delete the document; `NotFound(missing)` when it is not there, or nothing when `missing`
        is None (already gone is what the caller wanted)."""
        try:
            with translated(missing=missing):
                await self.client.delete(index=self.name, id=doc_id, **_refresh(refresh))
        except NotFound:
            if missing is not None:
                raise

    async def delete_by_query(self, query: dict[str, Any], *, refresh: bool = False, wait: bool = True) -> None:
        """Delete what matches (documents changed meanwhile are skipped); a missing index is empty."""
        params: dict[str, Any] = {"conflicts": "proceed"} | ({"refresh": True} if refresh else {})
        if not wait:
            params["wait_for_completion"] = False
        try:
            with translated():
                await self.client.delete_by_query(index=self.name, body={"query": query}, **params)
        except NotFound:
            pass

    async def count(self, query: dict[str, Any] | None = None) -> int:
        """How many documents match; 0 when the index does not exist yet."""
        try:
            with translated(query=True):
                result = await self.client.count(
                    index=self.name,
                    body={"query": query or {"match_all": {}}},
                    ignore_unavailable=True,
                    allow_no_indices=True,
                )
        except NotFound:
            return 0
        return int(result["count"])
