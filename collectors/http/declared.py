"""Sources an admin declared through the API (`<config_index_prefix>-sources`), merged into the HTTP
collector's SourceDirectory every `collectors.http.api_sources_refresh_secs`, so a new source or a
rotated ingest key works without a restart. Sources in the settings file win over stored ones with
the same id. When OpenSearch cannot be read the collector keeps the last directory it built:
senders are never refused because the config index is briefly unreachable."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from canhgac.collectors.base import SourceDirectory
from canhgac.core.config import OpenSearchConfig, SourceConfig
from canhgac.core.metrics import Metrics
from canhgac.core.periodic import cancel_and_wait, refresh_forever
from canhgac.core.source_registry import source_from_doc
from canhgac.core.store import make_client
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import NotFoundError, TransportError
from pydantic import ValidationError

log = logging.getLogger(__name__)
MAX_SOURCES = 10_000


class DeclaredSources:
    def __init__(
        self,
        opensearch: OpenSearchConfig,
        settings_sources: Sequence[SourceConfig],
        interval_secs: float,
        apply: Callable[[SourceDirectory], None],
        metrics: Metrics,
        *,
        transport: str = "http",
    ) -> None:
        self.opensearch = opensearch
        self.settings_sources = tuple(settings_sources)
        self.interval_secs = interval_secs
        self.apply = apply
        self.metrics = metrics
        self.transport = transport
        self.client: AsyncOpenSearch | None = None
        self._task: asyncio.Task[None] | None = None
        self._last: tuple[SourceConfig, ...] | None = None

    async def refresh_once(self) -> bool:
        """Rebuild the directory when the stored sources changed; False when nothing changed or
        OpenSearch could not be read."""
        if self.client is None:
            self.client = make_client(self.opensearch, component="collectors")
        try:
            result = await self.client.search(
                index=self.opensearch.source_configs_index, body={"size": MAX_SOURCES, "query": {"match_all": {}}}
            )
            docs = [h["_source"] for h in result["hits"]["hits"]]
        except NotFoundError:
            docs = []  # nobody declared a source through the API yet
        except (OSConnectionError, TransportError) as exc:
            self.metrics.errors.labels("http", "declared_sources_unavailable").inc()
            log.warning("declared sources not refreshed (keeping the last ones): %s", exc)
            return False
        taken = {s.id for s in self.settings_sources}
        stored = []
        for doc in sorted(docs, key=lambda d: str(d.get("id"))):
            try:
                source = source_from_doc(doc)
            except ValidationError as exc:
                log.warning("declared source %s ignored: %s", doc.get("id"), exc)
                continue
            if source.id not in taken:
                stored.append(source)
        current = tuple(stored)
        if current == self._last:
            return False
        self._last = current
        self.apply(SourceDirectory(self.settings_sources + current, transport=self.transport))
        return True

    async def start(self) -> None:
        await self.refresh_once()
        self._task = asyncio.create_task(
            refresh_forever(self.refresh_once, self.interval_secs, "declared sources"), name="http-declared-sources"
        )

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        if self.client is not None:
            await self.client.close()
            self.client = None
