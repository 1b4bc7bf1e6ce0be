"""Kafka clients made the one way Canhgac needs them.

Producers: acks=all and idempotence on, always: that is the delivery guarantee, not a tunable.
Consumers: auto-commit off; stages commit by hand after downstream writes succeeded.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError, for_code
from canhgac.core.config import KafkaConfig
from canhgac.core.errors import BackendUnavailable, ConfigError

log = logging.getLogger(__name__)


def topic_specs(cfg: KafkaConfig, names: list[str]) -> list[NewTopic]:
    """Topics as Canhgac creates them: partitions, replication factor and `min.insync.replicas` from
    the settings (with acks=all, a write is acknowledged once that many replicas have it)."""
    topics = cfg.topics
    return [
        NewTopic(
            name,
            num_partitions=topics.partitions,
            replication_factor=topics.replication_factor,
            topic_configs={"min.insync.replicas": str(topics.min_insync_replicas)},
        )
        for name in names
    ]


def raise_refused(topic_errors: list[tuple[Any, ...]]) -> None:
    """Raise for topics the controller refused to create (a CreateTopics response's `topic_errors`).

    Already existing is fine (another replica made it); a retriable refusal is `BackendUnavailable`;
    anything else (replication factor above the number of brokers, not authorised) is the operator's
    to fix, so `ConfigError`, which stops the start-up with Kafka's reason."""
    for topic, code, *message in topic_errors:
        if code in (0, TopicAlreadyExistsError.errno):
            continue
        error = for_code(code)
        reason = f"Kafka refused to create topic {topic}: {error.__name__} {message[0] if message else ''}".rstrip()
        if error.retriable:
            raise BackendUnavailable(reason)
        raise ConfigError(reason, where="kafka.topics")


async def warn_under_replicated(admin: AIOKafkaAdminClient, cfg: KafkaConfig, names: list[str]) -> None:
    """Topics made before the replication settings changed keep their old factor: say so."""
    try:
        described = await admin.describe_topics(names)
    except KafkaError as exc:  # advice only: the topics exist, so start-up goes on
        log.debug("could not describe topics %s: %s", names, exc)
        return
    for topic in described:
        copies = min((len(p["replicas"]) for p in topic.get("partitions") or []), default=0)
        if copies and copies < cfg.topics.replication_factor:
            log.warning(
                "Kafka topic %s has %d replica(s) per partition, settings want %d: reassign its partitions "
                "(docs/operations.md, Replication)",
                topic["topic"],
                copies,
                cfg.topics.replication_factor,
            )


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
                response = await admin.create_topics(topic_specs(cfg, missing))
                raise_refused(response.topic_errors)
            except TopicAlreadyExistsError:
                pass  # another process created it between our list and create
            log.info("created Kafka topics %s", ", ".join(missing))
        present = [t for t in wanted if t in existing]
        if present:
            await warn_under_replicated(admin, cfg, present)
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
