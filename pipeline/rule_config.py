"""What analysts change at run time, read from OpenSearch config indices on the detector's reload cycle.

- `<config_index_prefix>-rules`: one document per rule id (the document id) that someone touched:
  `enabled` (false: the detector skips the rule), and for uploaded rules their Sigma `yaml`.
- `<config_index_prefix>-exceptions`: rule exceptions (canhgac.rules.exceptions).
- `<config_index_prefix>-lists`: watch and allow lists (canhgac.core.watchlists), swapped into the
  process's live lists on each read, which rules and exceptions look up per event.

What they mean for the rules in service is decided by canhgac.rules.ruleset (shared with the API).

The API writes them, the detector reads them, so the two can run in different processes. When
OpenSearch cannot be read the detector keeps the last set it read: a refresh failure never changes
what is detected or suppressed.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from canhgac.core.config import OpenSearchConfig
from canhgac.core.errors import BackendUnavailable
from canhgac.core.index import Index
from canhgac.core.metrics import Metrics
from canhgac.core.store import make_client
from canhgac.core.watchlists import LISTS
from canhgac.rules.ruleset import RuleConfig, rule_config_from_docs
from opensearchpy import AsyncOpenSearch

log = logging.getLogger(__name__)


def unexpired_query(now: datetime) -> dict[str, Any]:
    return {
        "bool": {
            "should": [
                {"bool": {"must_not": {"exists": {"field": "expires_at"}}}},
                {"range": {"expires_at": {"gt": now.isoformat()}}},
            ],
            "minimum_should_match": 1,
            # Agency requests apply once a SOC analyst approves them (older documents have no state).
            "must_not": [{"terms": {"state": ["requested", "rejected"]}}],
        }
    }


class RuleConfigSource:
    """Reads the config indices. Owns its OpenSearch client (opened in start, closed in close)."""

    def __init__(self, cfg: OpenSearchConfig, metrics: Metrics) -> None:
        self.cfg = cfg
        self.metrics = metrics
        self.client: AsyncOpenSearch | None = None

    async def start(self) -> None:
        self.client = make_client(self.cfg, component="detector")

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None

    async def _refresh_lists(self) -> None:
        """Swap in the watch/allow lists; when they cannot be read (a role without the lists
        index, a blip) the last ones stay, and rules and exceptions still refresh."""
        assert self.client is not None
        try:
            docs = await Index(self.client, self.cfg.lists_index).read_all()
        except BackendUnavailable as exc:
            self.metrics.errors.labels("detector", "lists_unavailable").inc()
            log.warning("watch lists not refreshed (keeping the last ones): %s", exc)
            return
        bad_list = self.metrics.errors.labels("detector", "bad_list")

        def ignored(name: str, exc: Exception) -> None:
            bad_list.inc()
            log.warning("watch list %s ignored: %s", name, exc)

        LISTS.replace_from_docs(docs, ignored)

    async def fetch(self) -> RuleConfig | None:
        """The current config, or None when it could not be read (keep using the previous one)."""
        if self.client is None:
            return None
        try:
            rule_docs = await Index(self.client, self.cfg.rules_index).read_all()
            exceptions = Index(self.client, self.cfg.exceptions_index)
            exception_docs = await exceptions.read_all(unexpired_query(datetime.now(UTC)))
        except BackendUnavailable as exc:
            self.metrics.errors.labels("detector", "rule_config_unavailable").inc()
            log.warning("rule config not refreshed (keeping the last one): %s", exc)
            return None
        await self._refresh_lists()
        bad_exception = self.metrics.errors.labels("detector", "bad_exception")
        return rule_config_from_docs(rule_docs, exception_docs, lambda _reason: bad_exception.inc())
