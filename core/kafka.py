"""Kafka clients made the one way Canhgac needs them.

Producers: acks=all and idempotence on, always: that is the delivery guarantee, not a tunable.
Consumers: auto-commit off; stages commit by hand after downstream writes succeeded.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError
from canhgac.core.config import KafkaConfig
from canhgac.core.errors import BackendUnavailable

log = logging.getLogger(__name__)


def make_producer(cfg: KafkaConfig, *, client_suffix: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=cfg.bootstrap_servers,
        client_id=f"{cfg.client_id}-{client_suffix}",
        acks="all",
        enable_idempotence=True,
        linger_ms=cfg.linger_ms,
        max_batch_size=cfg.max_batch_bytes,
        request_timeout_ms=cfg.request_timeout_ms,
    )


def make_consumer(cfg: KafkaConfig, *, group_id: str, topics: list[str], max_records: int) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=cfg.bootstrap_servers,
        client_id=f"{cfg.client_id}-{group_id}",
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_records,
        isolation_level="read_committed",
    )


async def ensure_topics(cfg: KafkaConfig) -> None:
    """Create the four contract topics if they are missing (brokers run with auto-create off)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=cfg.bootstrap_servers, client_id=f"{cfg.client_id}-admin")
    try:
        await admin.start()
    except KafkaError as exc:
        raise BackendUnavailable(f"Kafka unreachable at {cfg.bootstrap_servers}: {exc}") from exc
    try:
        existing = set(await admin.list_topics())
        wanted = [cfg.topics.raw, cfg.topics.events, cfg.topics.alerts, cfg.topics.dlq]
        missing = [t for t in wanted if t not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [NewTopic(t, num_partitions=cfg.topics.partitions, replication_factor=1) for t in missing]
                )
            except TopicAlreadyExistsError:
                pass  # another process created it between our list and create
            log.info("created Kafka topics %s", ", ".join(missing))
    finally:
        await admin.close()


async def kafka_reachable(cfg: KafkaConfig, timeout_secs: float = 3.0) -> bool:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=cfg.bootstrap_servers, client_id=f"{cfg.client_id}-probe", request_timeout_ms=3000
    )
    try:
        await asyncio.wait_for(admin.start(), timeout_secs)
        await asyncio.wait_for(admin.list_topics(), timeout_secs)
        return True
    except (KafkaError, KafkaConnectionError, TimeoutError, OSError):
        return False
    finally:
        try:
            await admin.close()
        except Exception:  # closing a half-started client may fail; the probe's answer stands
            pass
