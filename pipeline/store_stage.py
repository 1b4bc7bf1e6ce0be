"""What the stages that write to OpenSearch share: their client and the templates (the Kafka
producer for dead letters is the stage base's)."""

from __future__ import annotations

from canhgac.core.config import KafkaConfig, OpenSearchConfig, PipelineConfig, StageConfig
from canhgac.core.metrics import Metrics
from canhgac.core.store import ensure_templates, make_client
from canhgac.pipeline.stage import Stage
from opensearchpy import AsyncOpenSearch


class OpenSearchStage(Stage):
    def __init__(
        self,
        kafka: KafkaConfig,
        opensearch: OpenSearchConfig,
        pipeline: PipelineConfig,
        stage: StageConfig,
        metrics: Metrics,
    ) -> None:
        super().__init__(kafka, stage, metrics, retry_backoff_max_secs=pipeline.retry_backoff_max_secs)
        self.opensearch = opensearch
        self.pipeline = pipeline
        self.client: AsyncOpenSearch | None = None
        self.templates_ready = False

    async def start(self) -> None:
        self.client = make_client(self.opensearch, component=self.component)

    async def close(self) -> None:
        if self.client:
            await self.client.close()

    async def ready_client(self) -> AsyncOpenSearch:
        """The client, once the index templates are in place (put before the first write)."""
        assert self.client is not None, "stage not started"
        if not self.templates_ready:
            await ensure_templates(self.client, self.opensearch)
            self.templates_ready = True
        return self.client
