"""Indexer stage: canhgac.events.v1 -> OpenSearch data streams, one per dataset.

Documents are created with `_id = event.id`, so a redelivered event is a 409 (already there),
never a second copy. Items OpenSearch refuses for good go to the DLQ with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from aiokafka import AIOKafkaProducer, ConsumerRecord
from canhgac.core.config import KafkaConfig, OpenSearchConfig, PipelineConfig
from canhgac.core.kafka import make_producer
from canhgac.core.metrics import Metrics
from canhgac.core.store import ensure_templates, events_index, make_client
from canhgac.pipeline.bulk import BulkItem, bulk_write
from canhgac.pipeline.normalizer import dlq_record_for_event
from canhgac.pipeline.stage import Stage, send_all
from opensearchpy import AsyncOpenSearch


class IndexerStage(Stage):
    name = "indexer"

    def __init__(
        self, kafka: KafkaConfig, opensearch: OpenSearchConfig, pipeline: PipelineConfig, metrics: Metrics
    ) -> None:
        super().__init__(
            kafka, pipeline.indexer, metrics, retry_backoff_max_secs=pipeline.retry_backoff_max_secs
        )
        self.opensearch = opensearch
        self.pipeline = pipeline
        self.client: AsyncOpenSearch | None = None
        self.producer: AIOKafkaProducer | None = None
        self.templates_ready = False

    def topics(self) -> list[str]:
        return [self.kafka.topics.events]

    async def start(self) -> None:
        self.client = make_client(self.opensearch)
        self.producer = make_producer(self.kafka, client_suffix=self.name)
        await self.producer.start()

    async def close(self) -> None:
        if self.producer:
            await self.producer.stop()
        if self.client:
            await self.client.close()

    async def process(self, records: Sequence[ConsumerRecord]) -> None:
        assert self.client is not None and self.producer is not None
        if not self.templates_ready:
            await ensure_templates(self.client, self.opensearch)
            self.templates_ready = True
        items: list[BulkItem] = []
        dead: list[tuple[bytes | None, bytes]] = []
        for record in records:
            try:
                event = orjson.loads(record.value)
                if not isinstance(event, dict):
                    raise ValueError("event is not a JSON object")
                event_id = event["event"]["id"]
                dataset = event.get("canhgac", {}).get("dataset") or "generic"
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                self.metrics.dlq.labels(self.name, "bad_event").inc()
                dead.append(
                    (
                        record.key,
                        orjson.dumps(dlq_record_for_event(self.name, "bad_event", str(exc), record.value)),
                    )
                )
                continue
            index = events_index(self.opensearch.index_prefix, str(dataset))
            # The Kafka value is already the document's JSON: send it as is (no re-serialising).
            source = record.value if b"\n" not in record.value else event
            items.append(BulkItem({"create": {"_index": index, "_id": event_id}}, source, record.key))
        if items:
            outcome = await bulk_write(
                self.client,
                items,
                max_retries=self.pipeline.bulk_max_retries,
                backoff_max_secs=self.pipeline.retry_backoff_max_secs,
            )
            self.metrics.indexed.labels(self.name).inc(outcome.written)
            if outcome.retries:
                self.metrics.retries.labels(self.name).inc(outcome.retries)
            for item, reason in outcome.failed or []:
                self.metrics.dlq.labels(self.name, "index_refused").inc()
                dead.append(
                    (
                        item.key,
                        orjson.dumps(dlq_record_for_event(self.name, "index_refused", reason, item.source)),
                    )
                )
        await send_all(self.producer, self.kafka.topics.dlq, dead)
