"""Stop and restart the indexer mid-stream, once cleanly and once as a crash between the bulk
write and the offset commit: OpenSearch still holds exactly N documents."""

from __future__ import annotations

import asyncio

import pytest
from canhgac.core.metrics import Metrics
from canhgac.core.store import make_client
from canhgac.pipeline.indexer import IndexerStage

from canhgac.demo_feed import send_lines
from canhgac.runtime import Runtime
from tests.conftest import eventually

pytestmark = pytest.mark.integration


class CrashAfterWrite(IndexerStage):
    """Writes its second batch to OpenSearch, then dies before committing the offsets."""

    async def _commit(self, consumer, offsets):  # type: ignore[no-untyped-def]
        if self.batches_done == 1:
            raise RuntimeError("simulated crash between bulk write and commit")
        await super()._commit(consumer, offsets)


async def count_docs(settings) -> int:  # type: ignore[no-untyped-def]
    client = make_client(settings.opensearch, component="admin")
    try:
        await client.indices.refresh(index=f"{settings.opensearch.index_prefix}.*", allow_no_indices=True)
        result = await client.count(index=f"{settings.opensearch.index_prefix}.*", allow_no_indices=True)
        return int(result["count"])
    finally:
        await client.close()


async def test_indexer_restarts_mid_stream_without_loss_or_duplicates(test_settings) -> None:
    n = 3000
    settings = test_settings.model_copy(
        update={
            "pipeline": test_settings.pipeline.model_copy(
                update={"indexer": test_settings.pipeline.indexer.model_copy(update={"max_batch_records": 100})}
            )
        }
    )
    # Collector and normalizer only: the events wait in Kafka for the indexers below.
    feeder = Runtime(settings, stages=("normalizer",), api=False)
    feeder_task = asyncio.create_task(feeder.run())
    await asyncio.wait_for(feeder.started.wait(), 120)
    try:
        assert feeder.collector is not None and feeder.collector.port
        lines = [f"<14>Nov 26 09:00:00 agency-srv{i % 5} app[{i}]: restart-test record {i}" for i in range(n)]
        await send_lines("127.0.0.1", feeder.collector.port, lines)

        metrics = Metrics()
        # 1. A clean stop after a few batches (SIGTERM path: finish the batch, commit, close).
        stop = asyncio.Event()
        first = IndexerStage(settings.kafka, settings.opensearch, settings.pipeline, metrics)
        first_task = asyncio.create_task(first.run(stop))
        await eventually(lambda: asyncio.sleep(0, first.batches_done >= 3), timeout_secs=60, interval_secs=0.05)
        stop.set()
        await asyncio.wait_for(first_task, 30)
        after_first = await count_docs(settings)
        assert 0 < after_first < n

        # 2. A crash after writing a batch but before committing it: that batch is redelivered.
        crash = CrashAfterWrite(settings.kafka, settings.opensearch, settings.pipeline, metrics)
        with pytest.raises(RuntimeError, match="simulated crash"):
            await asyncio.wait_for(crash.run(asyncio.Event()), 60)
        assert await count_docs(settings) > after_first

        # 3. A fresh indexer finishes the stream.
        stop = asyncio.Event()
        last = IndexerStage(settings.kafka, settings.opensearch, settings.pipeline, metrics)
        last_task = asyncio.create_task(last.run(stop))

        async def all_there() -> int | None:
            c = await count_docs(settings)
            return c if c >= n else None

        await eventually(all_there, timeout_secs=120)
        await asyncio.sleep(1.5)
        stop.set()
        await asyncio.wait_for(last_task, 30)
        assert await count_docs(settings) == n
    finally:
        feeder.request_stop()
        await asyncio.wait_for(feeder_task, 60)
