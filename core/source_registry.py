"""Which agency a source belongs to, from its declaration, never from a record.

A collector proves which source sent a record (ingest key, sender address, client certificate) and
writes that source's id into the raw envelope; only collectors may write the raw topic (Kafka ACLs).
The agency, which decides who sees the events and alerts, is then looked up here: the settings'
sources first, then the sources an admin declared through the API (read from OpenSearch), then a
collector's development default (`default_source_id` / `default_agency`). The envelope's own
`agency` field, and anything in the payload, is never used.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from canhgac.core.config import CollectorsConfig, Component, OpenSearchConfig, SourceConfig
from canhgac.core.errors import BackendUnavailable
from canhgac.core.index import Index
from canhgac.core.store import make_client
from opensearchpy import AsyncOpenSearch
from pydantic import ValidationError

log = logging.getLogger(__name__)

UNKNOWN_AGENCY = "unknown"


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
        self._refreshed_at = float("-inf")

    def lookup(self, source_id: str, collector: str) -> SourceConfig | None:
        found = self.settings_sources.get(source_id) or self.declared.get(source_id)
        if found is not None:
            return found
        return self.defaults.get((collector, source_id))

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
        self.declared = declared

    async def refresh_for_unknown(self) -> None:
        """An id nobody declared (yet): perhaps declared a moment ago, so read again, rate-limited."""
        await self.refresh(when_older_than_secs=self.min_refresh_secs)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None
