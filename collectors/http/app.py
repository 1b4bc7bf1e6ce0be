"""The HTTP ingest ASGI app: `POST /ingest/v1/{source_id}` and the Elasticsearch-compatible API.

Status codes, in one place (`_respond`): 2xx only after every record is acknowledged (in Kafka,
or fsync'd in the spool while Kafka is down); 400 bad input (with the reason); 401/403 auth;
408 body not received within `body_timeout_secs`; 413 over a size limit (raw or decoded) or over
`max_records_per_request`; 429 too many concurrent requests (in all, or from this source: its fair
share); 503 spool full or not writable. 429 and 503 carry Retry-After; nothing of a refused request
was kept, so a retry is safe.

A retry of a batch that *was* stored (the answer was lost: a crash, a timeout) is recognised when
the shipper says which batch it is: the `_id` of a `_bulk` action line, or an `Idempotency-Key`
header on the native endpoint. Raw ids derive from it, so the retry is the same records and the
index keeps one copy; without either, a retried batch is stored twice.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from canhgac.collectors.base import SourceDirectory
from canhgac.collectors.http.auth import AuthError, authenticate
from canhgac.collectors.http.body import BodyTimeout, parse_ingest, read_body_within
from canhgac.collectors.http.bulk import es_error, item_result, parse_bulk
from canhgac.collectors.http.probes import probe_answer, root_document
from canhgac.collectors.spool.sink import SpoolingSink
from canhgac.core.config import HttpIngestConfig, SourceConfig
from canhgac.core.envelope import Peer, RawEnvelope, utc_now_iso
from canhgac.core.errors import BackendUnavailable, InvalidRequest, Overloaded, TooLarge
from canhgac.core.ids import derived_id
from canhgac.core.metrics import Metrics
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

log = logging.getLogger(__name__)
COLLECTOR = "http"
_ES_HEADERS = {"X-Elastic-Product": "Elasticsearch"}


def idempotency_key(value: str | None) -> str | None:
    """The `Idempotency-Key` a shipper sends so that a retried batch is the same records."""
    if value is None:
        return None
    if not 1 <= len(value) <= 200 or not value.isascii() or not value.isprintable():
        raise InvalidRequest("Idempotency-Key must be 1 to 200 printable ASCII characters")
    return value


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers=headers, media_type="application/json")


class _Busy(Exception):
    pass


class IngestApp:
    def __init__(self, cfg: HttpIngestConfig, sources: SourceDirectory, sink: SpoolingSink, metrics: Metrics) -> None:
        self.cfg = cfg
        self.sources = sources
        self.sink = sink
        self.metrics = metrics
        self._active = 0
        self._active_by_source: Counter[str] = Counter()

    def asgi(self) -> Starlette:
        es = self._es
        return Starlette(
            routes=[
                Route("/ingest/v1/{source_id}", self._native(self.ingest), methods=["POST"]),
                Route("/_bulk", es(self.bulk), methods=["POST", "PUT"]),
                Route("/{index}/_bulk", es(self.bulk), methods=["POST", "PUT"]),
                Route("/", es(self.root), methods=["GET", "HEAD"]),
                Route("/{path:path}", es(self.probe), methods=["GET", "HEAD", "PUT", "POST", "DELETE"]),
            ]
        )

    # -- endpoints --------------------------------------------------------------------------------
    async def ingest(self, request: Request, source: SourceConfig) -> Response:
        body = await self._body(request)
        items = parse_ingest(
            body,
            request.headers.get("content-type"),
            max_message_bytes=self.cfg.max_message_bytes,
            max_records=self.cfg.max_records_per_request,
        )
        received_at, peer = utc_now_iso(), _peer(request)
        batch_key = idempotency_key(request.headers.get("idempotency-key"))
        envelopes = [
            RawEnvelope(
                source_id=source.id,
                agency=source.agency,
                collector=COLLECTOR,
                format=format_hint(source, item.payload),
                message=item.message,
                payload=item.payload,
                peer=peer,
                received_at=received_at,
                framing_error=item.error,
            )
            for item in items
        ]
        if batch_key:  # the same batch sent again (its answer was lost) is the same records
            for n, envelope in enumerate(envelopes):
                envelope.id = derived_id("http-ingest", source.id, batch_key, str(n))
        await self._deliver(envelopes)
        return json_response({"accepted": len(envelopes)})

    async def bulk(self, request: Request, source: SourceConfig) -> Response:
        started = time.monotonic()
        body = await self._body(request)
        ops = parse_bulk(
            body,
            default_index=request.path_params.get("index"),
            max_message_bytes=self.cfg.max_message_bytes,
            max_records=self.cfg.max_records_per_request,
        )
        received_at, peer = utc_now_iso(), _peer(request)
        envelopes = {
            i: RawEnvelope(
                source_id=source.id,
                agency=source.agency,
                collector=COLLECTOR,
                format=format_hint(source, op.doc),
                payload=op.doc,
                peer=peer,
                received_at=received_at,
            )
            for i, op in enumerate(ops)
            if op.error is None
        }
        for i, envelope in envelopes.items():  # the shipper's document id: a retried batch is the same records
            if doc_id := ops[i].doc_id:
                envelope.id = derived_id("http-bulk", source.id, doc_id)
        rejected = len(ops) - len(envelopes)
        if rejected:
            self.metrics.dropped.labels(COLLECTOR, "bulk_item_rejected").inc(rejected)
        await self._deliver(list(envelopes.values()))
        items = [
            item_result(op, doc_id=envelopes[i].id if i in envelopes else "", seq_no=i) for i, op in enumerate(ops)
        ]
        took = int((time.monotonic() - started) * 1000)
        return json_response({"took": took, "errors": rejected > 0, "items": items}, headers=_ES_HEADERS)

    async def root(self, request: Request, source: SourceConfig) -> Response:
        if request.method == "HEAD":
            return Response(b"", 200, headers=_ES_HEADERS)
        return json_response(root_document(self.cfg.es_version), headers=_ES_HEADERS)

    async def probe(self, request: Request, source: SourceConfig) -> Response:
        # Shippers check templates, ILM policies, licences … before sending; say yes to all of it.
        if request.method == "HEAD":
            return Response(b"", 200, headers=_ES_HEADERS)
        await self._body(request)  # a PUT's template body is read (bounded) and ignored
        answer = probe_answer(request.method, request.url.path, self.cfg.es_version)
        if isinstance(answer, str):
            return Response(answer, 200, headers=_ES_HEADERS, media_type="text/plain")
        return json_response(answer, headers=_ES_HEADERS)

    # -- plumbing ---------------------------------------------------------------------------------
    async def _body(self, request: Request) -> bytes:
        return await read_body_within(
            request.stream(),
            timeout_secs=self.cfg.body_timeout_secs,
            content_encoding=request.headers.get("content-encoding"),
            content_length=request.headers.get("content-length"),
            max_bytes=self.cfg.max_body_bytes,
        )

    async def _deliver(self, envelopes: list[RawEnvelope]) -> None:
        if not envelopes:
            return
        self.metrics.received.labels(COLLECTOR).inc(len(envelopes))
        future = await self.sink.submit(envelopes, wait=False)
        await future  # Kafka acknowledged, or fsync'd in the spool

    Handler = Callable[[Request, SourceConfig], Awaitable[Response]]

    def _native(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await self._respond(request, handler, es=False)

        return endpoint

    def _es(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await self._respond(request, handler, es=True)

        return endpoint

    async def _respond(self, request: Request, handler: Handler, *, es: bool) -> Response:
        """Every refusal is mapped to its status here, and counted."""
        retry = {"Retry-After": str(self.cfg.retry_after_secs)}

        def fail(status: int, kind: str, reason: str, headers: dict[str, str] | None = None) -> Response:
            self.metrics.dropped.labels(COLLECTOR, kind).inc()
            body = es_error(status, kind, reason) if es else {"error": reason, "reason": kind}
            return json_response(body, status, headers={**(headers or {}), **(_ES_HEADERS if es else {})})

        if self._active >= self.cfg.max_concurrent_requests:
            return fail(429, "too_many_requests", "too many concurrent requests", retry)
        self._active += 1
        try:
            ip = request.client.host if request.client else None
            source = authenticate(
                self.sources, request.headers, ip, path_source_id=request.path_params.get("source_id")
            )
            # Fair share: one source holds at most its share of the slots (a slow sender included).
            if self._active_by_source[source.id] >= self.cfg.max_concurrent_requests_per_source:
                return fail(
                    429,
                    "source_busy",
                    f"this source already has {self.cfg.max_concurrent_requests_per_source} requests in progress",
                    retry,
                )
            self._active_by_source[source.id] += 1
            try:
                return await handler(request, source)
            finally:
                self._active_by_source[source.id] -= 1
                if self._active_by_source[source.id] <= 0:
                    del self._active_by_source[source.id]
        except AuthError as exc:
            headers = {"WWW-Authenticate": 'Basic realm="canhgac", ApiKey'} if exc.status == 401 else None
            log.info("refused HTTP ingest from %s: %s", request.client, exc.detail)
            return fail(exc.status, exc.reason, exc.message, headers)
        except TooLarge as exc:
            return fail(413, "too_large", exc.message)
        except BodyTimeout as exc:
            return fail(408, "body_timeout", exc.message)
        except InvalidRequest as exc:
            return fail(400, "bad_request", exc.message)
        except Overloaded as exc:
            return fail(503, "spool_full", exc.message, retry)
        except BackendUnavailable as exc:
            return fail(503, "unavailable", exc.message, retry)
        finally:
            self._active -= 1


def format_hint(source: SourceConfig, payload: dict[str, Any] | None) -> str:
    """The declared format wins; otherwise tell the normalizer what kind of shipper sent this."""
    if source.format != "syslog" or payload is None:
        return source.format
    if "winlog" in payload:
        return "winlogbeat"
    agent = payload.get("agent")
    if isinstance(agent, dict) and isinstance(agent.get("type"), str):
        return str(agent["type"])
    return "json"


def _peer(request: Request) -> Peer:
    return Peer(ip=request.client.host, port=request.client.port) if request.client else Peer()
