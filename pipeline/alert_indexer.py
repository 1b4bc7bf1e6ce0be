"""Alert indexer stage: canhgac.alerts.v1 -> OpenSearch index canhgac-alerts.

New alerts are created with their stable id. An update of a grouped alert (higher count, later
last_seen) changes only those fields, so an analyst's status, assignee and comments survive, and
an older or replayed update (count not higher) changes nothing. Writes use the stored document's
sequence number, so a concurrent analyst edit is never overwritten: on conflict we read again.

A new alert is placed in the information systems inventory before it is created: its `system` and
`priority` (canhgac.core.systems) are set here, at indexing, because this stage writes every alert
once and the inventory is an OpenSearch index it can read; the detector stays free of it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import orjson
from aiokafka import ConsumerRecord
from canhgac.core.config import KafkaConfig, OpenSearchConfig, PipelineConfig
from canhgac.core.errors import BackendUnavailable
from canhgac.core.index import Index
from canhgac.core.metrics import Metrics
from canhgac.core.systems import Inventory, place_alert, systems_index
from canhgac.pipeline.bulk import BulkItem, bulk_write
from canhgac.pipeline.dlq import DeadLetters
from canhgac.pipeline.store_stage import OpenSearchStage
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import TransportError

# What a later emission of a known alert may change. `agencies` grows as a cross-agency
# correlation's window takes in events of more agencies.
GROUPED_FIELDS = ("count", "last_seen", "first_seen", "event_ids", "agencies", "cleared_at")
MAX_CONFLICT_ROUNDS = 5
# The inventory changes by hand, rarely: re-read it at most this often.
INVENTORY_REFRESH_SECS = 10.0

log = logging.getLogger(__name__)


class AlertIndexerStage(OpenSearchStage):
    name = "alert-indexer"

    def __init__(
        self, kafka: KafkaConfig, opensearch: OpenSearchConfig, pipeline: PipelineConfig, metrics: Metrics
    ) -> None:
        super().__init__(kafka, opensearch, pipeline, pipeline.alert_indexer, metrics)
        self.inventory = Inventory(())
        self._inventory_read_at: float | None = None

    async def _refresh_inventory(self) -> None:
        """Re-read the systems when due; when OpenSearch cannot say, keep the last inventory."""
        now = time.monotonic()
        if self._inventory_read_at is not None and now - self._inventory_read_at < INVENTORY_REFRESH_SECS:
            return
        assert self.client is not None
        self._inventory_read_at = now
        try:
            self.inventory = Inventory(await Index(self.client, systems_index(self.opensearch)).read_all())
        except BackendUnavailable as exc:
            self.metrics.errors.labels(self.name, "inventory_unavailable").inc()
            log.warning("systems inventory not refreshed (keeping the last one): %s", exc)

    def topics(self) -> list[str]:
        return [self.kafka.topics.alerts]

    async def process(self, records: Sequence[ConsumerRecord]) -> None:
        await self.ready_client()
        latest: dict[str, dict[str, Any]] = {}
        dead = self.dead_letters()
        for record in records:
            try:
                alert = orjson.loads(record.value)
                alert_id = alert["id"]
            except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
                dead.add(record.key, "bad_alert", str(exc), record.value)
                continue
            previous = latest.get(alert_id)
            if previous is None or alert.get("count", 0) >= previous.get("count", 0):
                latest[alert_id] = alert
        await self._refresh_inventory()
        for _ in range(MAX_CONFLICT_ROUNDS):
            if not latest:
                break
            latest = await self._write(latest, dead)
        if latest:
            raise BackendUnavailable(f"{len(latest)} alerts kept conflicting with concurrent edits")
        await self.produce_dead_letters(dead)

    async def _write(self, alerts: dict[str, dict[str, Any]], dead: DeadLetters) -> dict[str, dict[str, Any]]:
        """One round: returns the alerts that must be tried again (lost a race)."""
        assert self.client is not None
        index = self.opensearch.alerts_index
        try:
            found = await self.client.mget(
                index=index, body={"ids": list(alerts)}, _source_includes=list(GROUPED_FIELDS)
            )
        except (OSConnectionError, TransportError) as exc:
            raise BackendUnavailable(f"OpenSearch mget failed: {exc}") from exc
        items: list[BulkItem] = []
        for doc in found["docs"]:
            alert = alerts[doc["_id"]]
            if not doc.get("found"):
                place_alert(alert, self.inventory)
                items.append(BulkItem({"create": {"_index": index, "_id": doc["_id"]}}, alert, doc["_id"].encode()))
                continue
            stored = doc.get("_source", {})
            if alert.get("count", 0) <= stored.get("count", 0):
                continue  # replayed or older update
            changes = {k: alert[k] for k in GROUPED_FIELDS if k in alert}
            if stored.get("first_seen") and stored["first_seen"] < changes.get("first_seen", stored["first_seen"]):
                changes["first_seen"] = stored["first_seen"]
            items.append(
                BulkItem(
                    {
                        "update": {
                            "_index": index,
                            "_id": doc["_id"],
                            "if_seq_no": doc["_seq_no"],
                            "if_primary_term": doc["_primary_term"],
                        }
                    },
                    {"doc": changes},
                    doc["_id"].encode(),
                )
            )
        if not items:
            return {}
        outcome = await bulk_write(
            self.client,
            items,
            max_retries=self.pipeline.bulk_max_retries,
            backoff_max_secs=self.pipeline.retry_backoff_max_secs,
        )
        self.metrics.indexed.labels(self.name).inc(outcome.written)
        retry: dict[str, dict[str, Any]] = {}
        for item, reason in outcome.failed or []:
            alert_id = item.key.decode() if item.key else ""
            if reason.startswith("409"):
                retry[alert_id] = alerts[alert_id]  # a concurrent edit: read it again and merge
            else:
                dead.add(item.key, "index_refused", reason, alerts.get(alert_id))
        # A `create` answered 409 means someone created it meanwhile: merge on the next round.
        return retry | {k: alerts[k] for k in _duplicates(items, outcome)}


def _duplicates(items: list[BulkItem], outcome: Any) -> list[str]:
    # bulk_write counts create-409 as duplicates without naming them; with few alerts per batch a
    # second mget round is cheap, so re-check every created id when any duplicate was seen.
    if not outcome.duplicates:
        return []
    return [i.key.decode() for i in items if "create" in i.action and i.key]
