"""Kafka clients made the one way Canhgac needs them.

Producers: acks=all and idempotence on, always: that is the delivery guarantee, not a tunable.
Consumers: auto-commit off; stages commit by hand after downstream writes succeeded.
Every client is made for one component and authenticates as that component's principal when the
settings say so (`kafka.security`); the ACLs in `core/kafka_acl.py` say what each may do.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError, for_code
from aiokafka.helpers import create_ssl_context
from canhgac.core.config import Component, KafkaConfig
from canhgac.core.errors import BackendUnavailable, ConfigError

log = logging.getLogger(__name__)

# A correlation changelog record holds one partition's window state (docs/correlation.md).
CHANGELOG_MAX_BYTES = 16 * 1024 * 1024


def topic_specs(cfg: KafkaConfig, names: list[str]) -> list[NewTopic]:
    """Topics as Canhgac creates them: partitions, replication factor and `min.insync.replicas` from
    the settings (with acks=all, a write is acknowledged once that many replicas have it).
    The correlation changelog is compacted: only each partition's newest state is kept."""
    topics = cfg.topics
    specs = []
    for name in names:
        configs = {"min.insync.replicas": str(topics.min_insync_replicas)}
        if name in (topics.correlation_state, topics.notifier_state, topics.notify_routes):
            configs.update({"cleanup.policy": "compact", "max.message.bytes": str(CHANGELOG_MAX_BYTES)})
        specs.append(
            NewTopic(
                name,
                # The notifier's state topic has one partition: its owner is the notifier's one owner.
                num_partitions=1 if name in (topics.notifier_state, topics.notify_routes) else topics.partitions,
                replication_factor=topics.replication_factor,
                topic_configs=configs,
            )
        )
    return specs


def contract_topics(cfg: KafkaConfig) -> list[str]:
    """Every topic Canhgac uses: the four contract topics, the detector's two internal ones and the
    notifier's state topic."""
    t = cfg.topics
    return [t.raw, t.events, t.alerts, t.dlq, t.correlation, t.correlation_state, t.notifier_state, t.notify_routes]


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


def client_security(cfg: KafkaConfig, component: Component) -> dict[str, Any]:
    """Connection keyword arguments for an aiokafka client acting as `component`."""
    sec = cfg.security
    kwargs: dict[str, Any] = {"security_protocol": sec.protocol}
    if sec.protocol in ("SSL", "SASL_SSL"):
        kwargs["ssl_context"] = create_ssl_context(cafile=sec.ca_file)
    if sec.protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        credential = sec.credentials.get(component)
        if credential is None:
            raise ConfigError(f"no Kafka credentials for the {component} component", where="kafka.security.credentials")
        kwargs.update(
            sasl_mechanism=sec.sasl_mechanism,
            sasl_plain_username=credential.username,
            sasl_plain_password=credential.secret(),
        )
    return kwargs


def make_producer(
    cfg: KafkaConfig, *, component: Component, client_suffix: str, max_request_bytes: int = 1024 * 1024
) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=cfg.bootstrap_servers,
        client_id=f"{cfg.client_id}-{client_suffix}",
        acks="all",
        enable_idempotence=True,
        linger_ms=cfg.linger_ms,
        max_batch_size=cfg.max_batch_bytes,
        max_request_size=max_request_bytes,
        request_timeout_ms=cfg.request_timeout_ms,
        **client_security(cfg, component),
    )


def make_consumer(
    cfg: KafkaConfig,
    *,
    component: Component,
    group_id: str,
    topics: list[str],
    max_records: int,
    listener: ConsumerRebalanceListener | None = None,
) -> AIOKafkaConsumer:
    """A group member; `listener` hears which partitions it gains and loses (stateful stages)."""
    consumer = AIOKafkaConsumer(
        *([] if listener is not None else topics),
        bootstrap_servers=cfg.bootstrap_servers,
        client_id=f"{cfg.client_id}-{group_id}",
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_records,
        isolation_level="read_committed",
        **client_security(cfg, component),
    )
    if listener is not None:
        consumer.subscribe(topics, listener=listener)
    return consumer


def make_reader(cfg: KafkaConfig, *, component: Component, client_suffix: str) -> AIOKafkaConsumer:
    """A consumer outside any group, for partitions assigned by hand (restoring a changelog)."""
    return AIOKafkaConsumer(
        bootstrap_servers=cfg.bootstrap_servers,
        client_id=f"{cfg.client_id}-{client_suffix}",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        **client_security(cfg, component),
    )


def make_admin(cfg: KafkaConfig, *, component: Component, request_timeout_ms: int = 30_000) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        bootstrap_servers=cfg.bootstrap_servers,
        client_id=f"{cfg.client_id}-{component}",
        request_timeout_ms=request_timeout_ms,
        **client_security(cfg, component),
    )


def can_create_topics(cfg: KafkaConfig) -> bool:
    """Whether these settings can create topics: no authentication, or the admin principal is given.
    Deployments that give their stages no admin credentials create topics with `canhgac kafka setup`."""
    return not cfg.security.protocol.startswith("SASL") or "admin" in cfg.security.credentials


async def ensure_topics(cfg: KafkaConfig) -> None:
    """Create the contract topics (and the detector's internal ones) if they are missing (brokers
    run with auto-create off).
    Secured clusters: as the admin principal (the only one allowed to create topics)."""
    admin = make_admin(cfg, component="admin")
    try:
        await admin.start()
    except KafkaError as exc:
        raise BackendUnavailable(f"Kafka unreachable at {cfg.bootstrap_servers}: {exc}") from exc
    try:
        try:
            existing = set(await admin.list_topics())
        except KafkaError as exc:
            # Bootstrapped through a live broker, the request went to one that is down (a broker
            # of a cluster restarting): wait for it like for an unreachable cluster.
            if not exc.retriable:
                raise
            raise BackendUnavailable(f"Kafka did not answer the topic listing: {exc!r}") from exc
        wanted = contract_topics(cfg)
        missing = [t for t in wanted if t not in existing]
        if missing:
            try:
                response = await admin.create_topics(topic_specs(cfg, missing))
                raise_refused(response.topic_errors)
            except TopicAlreadyExistsError:
                pass  # another process created it between our list and create
            except KafkaError as exc:
                if not exc.retriable:
                    raise
                raise BackendUnavailable(f"Kafka did not answer the topic creation: {exc!r}") from exc
            log.info("created Kafka topics %s", ", ".join(missing))
        present = [t for t in wanted if t in existing]
        if present:
            await warn_under_replicated(admin, cfg, present)
    finally:
        await admin.close()


async def kafka_reachable(cfg: KafkaConfig, *, component: Component, timeout_secs: float = 3.0) -> bool:
    admin = make_admin(cfg, component=component, request_timeout_ms=3000)
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
