"""Indexer stage: canhgac.events.v1 -> OpenSearch data streams, one per dataset.

Documents are created with `_id = event.id`, so a redelivered event is a 409 (already there),
never a second copy. Items OpenSearch refuses for good go to the DLQ with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from aiokafka import ConsumerRecord
from canhgac.core.config import KafkaConfig, OpenSearchConfig, PipelineConfig
from canhgac.core.metrics import Metrics
from canhgac.core.store import events_index
from canhgac.pipeline.bulk import BulkItem, bulk_write
from canhgac.pipeline.store_stage import OpenSearchStage


class IndexerStage(OpenSearchStage):
    name = "indexer"

    def __init__(
        self, kafka: KafkaConfig, opensearch: OpenSearchConfig, pipeline: PipelineConfig, metrics: Metrics
    ) -> None:
        super().__init__(kafka, opensearch, pipeline, pipeline.indexer, metrics)

    def topics(self) -> list[str]:
        return [self.kafka.topics.events]

    async def process(self, records: Sequence[ConsumerRecord]) -> None:
        client = await self.ready_client()
        items: list[BulkItem] = []
        dead = self.dead_letters()
        for record in records:
            try:
                event = orjson.loads(record.value)
                if not isinstance(event, dict):
                    raise ValueError("event is not a JSON object")
                event_id = event["event"]["id"]
                dataset = event.get("canhgac", {}).get("dataset") or "generic"
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                dead.add(record.key, "bad_event", str(exc), record.value)
                continue
            index = events_index(self.opensearch.index_prefix, str(dataset))
            # The Kafka value is already the document's JSON: send it as is (no re-serialising).
            source = record.value if b"\n" not in record.value else event
            items.append(BulkItem({"create": {"_index": index, "_id": event_id}}, source, record.key))
        if items:
            outcome = await bulk_write(
                client,
                items,
                max_retries=self.pipeline.bulk_max_retries,
                backoff_max_secs=self.pipeline.retry_backoff_max_secs,
            )
            self.metrics.indexed.labels(self.name).inc(outcome.written)
            if outcome.retries:
                self.metrics.retries.labels(self.name).inc(outcome.retries)
            for item, reason in outcome.failed or []:
                dead.add(item.key, "index_refused", reason, item.source)
        await self.produce_dead_letters(dead)
