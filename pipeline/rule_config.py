"""What analysts change at run time, read from OpenSearch config indices on the detector's reload cycle.

- `<config_index_prefix>-rules`: one document per rule id (the document id) that someone touched:
  `enabled` (false: the detector skips the rule), and for uploaded rules their Sigma `yaml`.
- `<config_index_prefix>-exceptions`: rule exceptions (canhgac.rules.exceptions).

The API writes them, the detector reads them, so the two can run in different processes. When
OpenSearch cannot be read the detector keeps the last set it read: a refresh failure never changes
what is detected or suppressed.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from canhgac.core.config import OpenSearchConfig
from canhgac.core.metrics import Metrics
from canhgac.core.store import make_client
from canhgac.rules.exceptions import ExceptionSet, RuleException
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import NotFoundError, TransportError

log = logging.getLogger(__name__)

# Read in one page each: thousands of exceptions or uploads would be a sign of misuse, not a need.
MAX_DOCS = 10_000


@dataclass(frozen=True, slots=True)
class RuleConfig:
    uploaded: dict[str, str] = field(default_factory=dict)  # rule id -> Sigma YAML
    disabled: frozenset[str] = frozenset()
    exceptions: ExceptionSet = field(default_factory=ExceptionSet)

    @property
    def rules_version(self) -> str:
        """Changes when the rule set must be rebuilt (an upload, an enable/disable), not on exceptions."""
        digest = hashlib.sha256()
        for rule_id in sorted(self.uploaded):
            digest.update(f"{rule_id}\x00{self.uploaded[rule_id]}\x00".encode())
        for rule_id in sorted(self.disabled):
            digest.update(f"disabled\x00{rule_id}\x00".encode())
        return digest.hexdigest()


async def read_all(client: AsyncOpenSearch, index: str, query: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every document's source (with `_id` as `id` when missing); [] when the index does not exist yet."""
    body = {"size": MAX_DOCS, "query": query or {"match_all": {}}}
    try:
        result = await client.search(index=index, body=body)
    except NotFoundError:
        return []
    hits = result["hits"]["hits"]
    if len(hits) == MAX_DOCS:
        log.warning("%s holds more than %d documents; only the first %d are used", index, MAX_DOCS, MAX_DOCS)
    return [{"id": h["_id"], **h["_source"]} for h in hits]


def unexpired_query(now: datetime) -> dict[str, Any]:
    return {
        "bool": {
            "should": [
                {"bool": {"must_not": {"exists": {"field": "expires_at"}}}},
                {"range": {"expires_at": {"gt": now.isoformat()}}},
            ],
            "minimum_should_match": 1,
        }
    }


def rule_config_from_docs(
    rule_docs: list[dict[str, Any]], exception_docs: list[dict[str, Any]], metrics: Metrics | None = None
) -> RuleConfig:
    uploaded = {str(d["id"]): d["yaml"] for d in rule_docs if isinstance(d.get("yaml"), str) and d["yaml"]}
    disabled = frozenset(str(d["id"]) for d in rule_docs if d.get("enabled") is False)
    exceptions = []
    for doc in exception_docs:
        try:
            exceptions.append(RuleException.parse(doc))
        except ValueError as exc:  # the API validates; this is a hand-edited or older document
            log.warning("exception %s ignored: %s", doc.get("id"), exc)
            if metrics is not None:
                metrics.errors.labels("detector", "bad_exception").inc()
    return RuleConfig(uploaded=uploaded, disabled=disabled, exceptions=ExceptionSet(exceptions))


class RuleConfigSource:
    """Reads the config indices. Owns its OpenSearch client (opened in start, closed in close)."""

    def __init__(self, cfg: OpenSearchConfig, metrics: Metrics) -> None:
        self.cfg = cfg
        self.metrics = metrics
        self.client: AsyncOpenSearch | None = None

    async def start(self) -> None:
        self.client = make_client(self.cfg)

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None

    async def fetch(self) -> RuleConfig | None:
        """The current config, or None when it could not be read (keep using the previous one)."""
        if self.client is None:
            return None
        try:
            rule_docs = await read_all(self.client, self.cfg.rules_index)
            exception_docs = await read_all(self.client, self.cfg.exceptions_index, unexpired_query(datetime.now(UTC)))
        except (OSConnectionError, TransportError) as exc:
            self.metrics.errors.labels("detector", "rule_config_unavailable").inc()
            log.warning("rule config not refreshed (keeping the last one): %s", exc)
            return None
        return rule_config_from_docs(rule_docs, exception_docs, self.metrics)
