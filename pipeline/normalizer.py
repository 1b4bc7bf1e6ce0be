"""Normalizer stage: canhgac.raw.v1 -> parser -> canhgac.events.v1 (and canhgac.dlq.v1).

A record that its parser cannot read is not dropped: it becomes an event with
`event.kind: pipeline_error` (kept and searchable) and a DLQ record carrying the reason.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from aiokafka import ConsumerRecord
from canhgac.core.config import (
    CollectorsConfig,
    GeoIpConfig,
    KafkaConfig,
    LookupsConfig,
    OpenSearchConfig,
    SourceConfig,
    StageConfig,
)
from canhgac.core.envelope import RawEnvelope, utc_now_iso
from canhgac.core.errors import ParseError
from canhgac.core.event import Event, set_logsource
from canhgac.core.formats import canonical_format
from canhgac.core.lookups import LookupSource
from canhgac.core.metrics import Metrics
from canhgac.core.source_registry import UNKNOWN_AGENCY, SourceRegistry
from canhgac.pipeline.dlq import dead_letter
from canhgac.pipeline.normalize import base
from canhgac.pipeline.normalize.geoip import GeoIp
from canhgac.pipeline.stage import Stage

log = logging.getLogger(__name__)

DEFAULT_FORMAT = "syslog"
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


def load_parser_modules() -> None:
    """Import every parser module (pipeline/normalize/catalog.py); each registers its parser once."""
    from canhgac.pipeline.normalize import catalog  # noqa: F401


class ParserCache:
    """One parser instance per (format, time zone): parsers may keep per-source state (IIS #Fields)."""

    def __init__(self) -> None:
        self._parsers: dict[tuple[str, str], base.Parser] = {}

    def get(self, fmt: str, timezone: str) -> base.Parser:
        """The parser for a format or its alias (core/formats.py); ParseError for a format no parser
        has, so its records are kept as pipeline errors with that reason instead of crashing."""
        key = (fmt, timezone)
        parser = self._parsers.get(key)
        if parser is None:
            name = canonical_format(fmt)
            if name is None or name not in base.parsers:
                raise ParseError(f"unknown format {fmt!r} (parsers: {', '.join(base.parsers.names())})")
            parser = self._parsers.get((name, timezone))
            if parser is None:
                # Parsers that read local times take the source's zone; the Protocol cannot say
                # "optional constructor argument", so the class is called as a plain factory.
                factory: Callable[..., base.Parser] = base.parsers.get(name)
                accepts_tz = "default_tz" in inspect.signature(factory).parameters
                parser = factory(default_tz=timezone) if accepts_tz else factory()
                self._parsers[(name, timezone)] = parser
            self._parsers[key] = parser
        return parser


def normalize(
    raw: RawEnvelope, parsers: ParserCache, source: SourceConfig | None
) -> tuple[Event, dict[str, Any] | None]:
    """Return the event, and a DLQ record when the parser refused the input.

    `source` is the declaration of the source the collector proved (`SourceRegistry.lookup`); the
    event's agency is that declaration's, never the envelope's or the payload's (None: unknown)."""
    fmt = raw.format or (source.format if source else DEFAULT_FORMAT)
    timezone = source.timezone if source else DEFAULT_TIMEZONE
    dlq: dict[str, Any] | None = None
    try:
        event = parsers.get(fmt, timezone).parse(raw)
        if not isinstance(event, dict):
            raise ParseError(f"parser {fmt!r} returned {type(event).__name__}, not an event")
    except ParseError as exc:
        event = pipeline_error_event(raw, f"{fmt}: {exc.message}")
        dlq = dead_letter("normalizer", "parse_error", str(exc), raw)
    except Exception as exc:  # a parser bug must not stop the stream; the record is kept as an error
        log.exception("parser %s crashed on raw %s", fmt, raw.id)
        event = pipeline_error_event(raw, f"{fmt}: parser crashed: {type(exc).__name__}: {exc}")
        dlq = dead_letter("normalizer", "parser_crash", repr(exc), raw)
    finish_event(event, raw, source)
    return event, dlq


def finish_event(event: Event, raw: RawEnvelope, source: SourceConfig | None) -> None:
    event.setdefault("@timestamp", raw.received_at)
    ev = event.setdefault("event", {})
    ev["id"] = raw.id  # the raw id: a replay of the same raw record writes the same document
    ev["ingested"] = utc_now_iso()
    ev.setdefault("kind", "event")
    if raw.message is not None:
        event.setdefault("log", {}).setdefault("original", raw.message)
    cg = event.setdefault("canhgac", {})
    cg["source_id"] = raw.source_id
    cg["agency"] = source.agency if source is not None else UNKNOWN_AGENCY
    cg["raw_id"] = raw.id
    cg["collector"] = raw.collector
    cg.setdefault("dataset", raw.format or DEFAULT_FORMAT)
    cg.setdefault("logsource", {})
    if raw.peer.ip:
        event.setdefault("observer", {}).setdefault("ip", raw.peer.ip)
    if raw.peer.tls_subject:
        set_tls_client(event, raw.peer.tls_subject, raw.peer.tls_hash_sha256)
    if source is None:
        event.setdefault("tags", []).append("unknown_source")
    if raw.framing_error:
        event.setdefault("tags", []).append("framing_error")
        event.setdefault("error", {}).setdefault("message", raw.framing_error)


def set_tls_client(event: Event, subject: str, sha256: str | None) -> None:
    """The client certificate the collector verified: it replaces whatever the record claims."""
    tls = event.get("tls")
    if not isinstance(tls, dict):
        tls = event["tls"] = {}
    client = tls.get("client")
    if not isinstance(client, dict):
        client = tls["client"] = {}
    client["subject"] = subject
    if sha256:
        client["hash"] = {"sha256": sha256}
    else:
        client.pop("hash", None)


def pipeline_error_event(raw: RawEnvelope, reason: str) -> Event:
    event: Event = {
        "@timestamp": raw.received_at,
        "message": raw.message if raw.message is not None else orjson.dumps(raw.payload).decode(),
        "event": {"kind": "pipeline_error"},
        "error": {"type": "parse_error", "message": reason},
        "canhgac": {"dataset": "pipeline_error"},
    }
    set_logsource(event)
    return event


class NormalizerStage(Stage):
    name = "normalizer"

    def __init__(
        self,
        kafka: KafkaConfig,
        stage: StageConfig,
        metrics: Metrics,
        sources: Sequence[SourceConfig],
        *,
        collectors: CollectorsConfig,
        opensearch: OpenSearchConfig | None = None,
        declared_refresh_secs: float = 10.0,
        geoip: GeoIpConfig | None = None,
        lookups: LookupsConfig | None = None,
    ) -> None:
        super().__init__(kafka, stage, metrics)
        self.geoip = GeoIp(geoip or GeoIpConfig())
        # Lookup tables enrich (canhgac.lookup.*); the agency that decides visibility stays the source's.
        self.lookups_cfg = lookups or LookupsConfig()
        self.lookups = LookupSource(
            opensearch if self.lookups_cfg.enabled else None, refresh_secs=self.lookups_cfg.refresh_secs
        )
        # Agencies come from declarations (settings, then the API's, then collectors' defaults).
        self.sources = SourceRegistry(
            sources, collectors, opensearch, component=self.component, refresh_secs=declared_refresh_secs
        )
        self.parsers = ParserCache()
        load_parser_modules()

    async def start(self) -> None:
        # Declarations are re-read in the background every sources_refresh_secs: a slow config
        # index never holds a batch (only an id nobody declared yet triggers a read inline).
        await self.sources.start()
        await self.lookups.start()

    async def close(self) -> None:
        await self.sources.close()
        await self.lookups.close()

    def topics(self) -> list[str]:
        return [self.kafka.topics.raw]

    async def process(self, records: Sequence[ConsumerRecord]) -> None:
        events: list[tuple[bytes | None, bytes]] = []
        dead = self.dead_letters()
        envelopes: list[tuple[ConsumerRecord, RawEnvelope]] = []
        for record in records:
            try:
                envelopes.append((record, RawEnvelope.from_json(record.value)))
            except ParseError as exc:
                dead.add(record.key, "bad_envelope", str(exc), record.value)
        if any(self.sources.lookup(raw.source_id, raw.collector) is None for _, raw in envelopes):
            await self.sources.refresh_for_unknown()  # declared through the API a moment ago?
        lookups = self.lookups.directory  # one set of tables per batch
        for record, raw in envelopes:
            source = self.sources.lookup(raw.source_id, raw.collector)
            if source is not None and not source.enabled:
                # Accepted before the collectors saw the switch (or by a collector in another
                # process that has not yet): kept on the DLQ, replayable once the source is enabled.
                dead.add(record.key, "source_disabled", f"source {raw.source_id!r} is disabled", raw)
                continue
            event, dlq = normalize(raw, self.parsers, source)
            self.geoip.enrich(event)
            lookups.enrich(event, self.lookups_cfg.fields)
            if dlq is not None:
                self.metrics.parse_errors.labels(raw.format or DEFAULT_FORMAT).inc()
                dead.add_record(record.key, dlq)
            events.append((record.key, orjson.dumps(event, option=orjson.OPT_NON_STR_KEYS)))
        await self.produce(self.kafka.topics.events, events)
        await self.produce_dead_letters(dead)
