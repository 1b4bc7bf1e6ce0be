"""Which agency a source belongs to, from its declaration, never from a record.

A collector proves which source sent a record (ingest key, sender address, client certificate) and
writes that source's id into the raw envelope; only collectors may write the raw topic (Kafka ACLs).
The agency, which decides who sees the events and alerts, is then looked up here: the settings'
sources first, then the sources an admin declared through the API (read from OpenSearch), then a
collector's development default (`default_source_id` / `default_agency`). The envelope's own
`agency` field, and anything in the payload, is never used.

Sources are live configuration, like rules: every component that needs a declaration (collectors,
normaliser, source health, retention) holds one registry and re-reads the API's declarations every
`sources_refresh_secs` (`start` runs that loop; stages call `refresh` from their own loop), so a
source declared, edited, disabled or deleted through the API takes effect within seconds. `version`
changes whenever what `sources()` returns changes, so users rebuild what they derive from it
(address tables, health trackers) only then. When OpenSearch cannot be read the last declarations
stay in force: a blip never un-declares a source.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from canhgac.core.config import CollectorsConfig, Component, OpenSearchConfig, SourceConfig
from canhgac.core.errors import BackendUnavailable
from canhgac.core.index import Index
from canhgac.core.periodic import cancel_and_wait, refresh_forever
from canhgac.core.store import make_client
from opensearchpy import AsyncOpenSearch
from pydantic import ValidationError

log = logging.getLogger(__name__)

UNKNOWN_AGENCY = "unknown"
FIRST_READ_SECS = 5.0


def source_from_doc(doc: dict[str, Any]) -> SourceConfig:
    """A source declared through the API, from its config-index document."""
    fields = {k: doc[k] for k in SourceConfig.model_fields if doc.get(k) is not None}
    return SourceConfig(**fields)


def collector_defaults(collectors: CollectorsConfig) -> dict[tuple[str, str], SourceConfig]:
    """(collector name, source id) -> the source a collector assigns to senders it has no
    declaration for (development only; production configs set `default_source_id: null`)."""
    out: dict[tuple[str, str], SourceConfig] = {}
    for key in type(collectors).model_fields:
        cfg = getattr(collectors, key)
        source_id = getattr(cfg, "default_source_id", None)
        if source_id:
            name = key.replace("_", "-")  # syslog_tcp -> syslog-tcp, the envelope's `collector`
            out[(name, source_id)] = SourceConfig(id=source_id, agency=getattr(cfg, "default_agency", UNKNOWN_AGENCY))
    return out


class SourceRegistry:
    """Declared sources by id. `lookup` is synchronous; `refresh` re-reads the API's declarations
    (at most every `min_refresh_secs`, so a burst of unknown ids costs one read)."""

    def __init__(
        self,
        sources: Sequence[SourceConfig],
        collectors: CollectorsConfig,
        opensearch: OpenSearchConfig | None,
        *,
        component: Component,
        refresh_secs: float = 10.0,
        min_refresh_secs: float = 1.0,
    ) -> None:
        self.settings_sources = {s.id: s for s in sources}
        self.defaults = collector_defaults(collectors)
        self.opensearch = opensearch
        self.component: Component = component
        self.refresh_secs = refresh_secs
        self.min_refresh_secs = min_refresh_secs
        self.declared: dict[str, SourceConfig] = {}
        self.client: AsyncOpenSearch | None = None
        self.version = 0
        self._refreshed_at = float("-inf")
        self._task: asyncio.Task[None] | None = None

    def lookup(self, source_id: str, collector: str) -> SourceConfig | None:
        """The declaration of a source (disabled ones too: callers check `enabled`), else None."""
        found = self.settings_sources.get(source_id) or self.declared.get(source_id)
        if found is not None:
            return found
        return self.defaults.get((collector, source_id))

    def sources(self) -> tuple[SourceConfig, ...]:
        """Every declared source: the settings file's, then the API's (a settings id wins)."""
        stored = (s for sid, s in sorted(self.declared.items()) if sid not in self.settings_sources)
        return (*self.settings_sources.values(), *stored)

    async def refresh(self, *, when_older_than_secs: float | None = None) -> None:
        """Re-read the sources declared through the API; on failure keep the last ones."""
        if self.opensearch is None:
            return
        age = time.monotonic() - self._refreshed_at
        if age < (self.refresh_secs if when_older_than_secs is None else when_older_than_secs):
            return
        self._refreshed_at = time.monotonic()
        if self.client is None:
            self.client = make_client(self.opensearch, component=self.component)
        try:
            docs = await Index(self.client, self.opensearch.source_configs_index).read_all()
        except BackendUnavailable as exc:
            log.warning("declared sources not refreshed (keeping the last ones): %s", exc)
            return
        declared: dict[str, SourceConfig] = {}
        for doc in docs:
            try:
                source = source_from_doc(doc)
            except ValidationError as exc:
                log.warning("declared source %s ignored: %s", doc.get("id"), exc)
                continue
            declared[source.id] = source
        if declared != self.declared:
            self.declared = declared
            self.version += 1

    async def refresh_for_unknown(self) -> None:
        """An id nobody declared (yet): perhaps declared a moment ago, so read again, rate-limited."""
        await self.refresh(when_older_than_secs=self.min_refresh_secs)

    async def start(self) -> None:
        """First read, then re-read every `refresh_secs` in the background (collectors, retention).
        The first read waits at most FIRST_READ_SECS: collectors listen whatever state OpenSearch
        is in, and the settings file's sources work meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.refresh(), FIRST_READ_SECS)
        if self.opensearch is not None and self._task is None:
            self._task = asyncio.create_task(
                refresh_forever(lambda: self.refresh(when_older_than_secs=0), self.refresh_secs, "declared sources"),
                name=f"{self.component}-sources",
            )

    async def close(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        if self.client is not None:
            await self.client.close()
            self.client = None
