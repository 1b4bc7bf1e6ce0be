"""Kafka and OpenSearch hold each component to its own rights (issue 10, finding 6; docs/security.md).

Run against the secured services deploy/local/services.sh starts by default: every client below
authenticates as one component's principal with the credentials services.sh generated, and each
refusal is Kafka's ACLs or OpenSearch's security plugin saying no. Against unsecured services these
tests fail, as they should: the property they check does not hold there.
"""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
)
from canhgac.core.config import Component, Credential, KafkaConfig, Settings
from canhgac.core.envelope import RawEnvelope
from canhgac.core.kafka import client_security, ensure_topics, make_consumer, make_producer
from canhgac.core.store import make_client
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import AuthenticationException, AuthorizationException
from pydantic import SecretStr

from canhgac.runtime import Runtime
from tests.conftest import eventually

pytestmark = pytest.mark.integration


async def produce(settings: Settings | KafkaConfig, component: Component, topic: str, value: bytes) -> None:
    kafka = settings.kafka if isinstance(settings, Settings) else settings
    producer = make_producer(kafka, component=component, client_suffix=f"test-{component}")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=b"win-dc")
    finally:
        await producer.stop()


def forged_envelope(agency: str) -> bytes:
    return RawEnvelope(
        source_id="win-dc",
        agency=agency,
        collector="syslog-tcp",
        format="syslog",
        message="<38>1 2026-12-06T10:00:00Z dc01 sshd 42 - - Accepted password for root from 203.0.113.9 port 22 ssh2",
    ).to_json()


@pytest.mark.parametrize("component", ["normalizer", "detector", "api", "notifier"])
async def test_a_forged_kafka_record_is_refused_by_acl(test_settings: Settings, component: Component) -> None:
    """Only collectors may write the raw topic: any other principal's record is refused."""
    await ensure_topics(test_settings.kafka)
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(test_settings, component, test_settings.kafka.topics.raw, forged_envelope("so-tai-chinh"))


async def test_collectors_may_write_raw_and_only_producers_of_alerts_write_alerts(test_settings: Settings) -> None:
    await ensure_topics(test_settings.kafka)
    topics = test_settings.kafka.topics
    await produce(test_settings, "collectors", topics.raw, forged_envelope("so-noi-vu"))  # allowed
    await produce(test_settings, "detector", topics.alerts, b"{}")  # allowed
    for component in ("collectors", "normalizer", "indexer", "alert_indexer"):
        with pytest.raises(TopicAuthorizationFailedError):
            await produce(test_settings, component, topics.alerts, b"{}")  # type: ignore[arg-type]


async def read_one(settings: Settings, component: Component, topic: str) -> list[bytes]:
    consumer = make_consumer(
        settings.kafka,
        component=component,
        group_id=f"{settings.kafka.group_prefix}-probe-{uuid.uuid4().hex[:6]}",
        topics=[topic],
        max_records=10,
    )
    await consumer.start()
    try:
        for _ in range(40):
            batch = await consumer.getmany(timeout_ms=500)
            values = [r.value for records in batch.values() for r in records if r.value is not None]
            if values:
                return values
        return []
    finally:
        await consumer.stop()


async def test_a_principal_without_rights_cannot_read_alerts(test_settings: Settings) -> None:
    await ensure_topics(test_settings.kafka)
    alerts = test_settings.kafka.topics.alerts
    await produce(test_settings, "detector", alerts, b'{"id": "a1"}')
    assert await read_one(test_settings, "alert_indexer", alerts) == [b'{"id": "a1"}']  # its input
    for component in ("collectors", "normalizer", "indexer"):
        with pytest.raises(TopicAuthorizationFailedError):
            await read_one(test_settings, component, alerts)  # type: ignore[arg-type]


async def test_consumer_groups_outside_the_prefix_are_refused(test_settings: Settings) -> None:
    await ensure_topics(test_settings.kafka)
    consumer = make_consumer(
        test_settings.kafka,
        component="alert_indexer",
        group_id=f"elsewhere-{uuid.uuid4().hex[:6]}",
        topics=[test_settings.kafka.topics.alerts],
        max_records=10,
    )
    with pytest.raises(GroupAuthorizationFailedError):
        await consumer.start()
        try:
            await consumer.getmany(timeout_ms=5000)
        finally:
            await consumer.stop()


async def test_kafka_refuses_a_wrong_password_and_an_unauthenticated_client(test_settings: Settings) -> None:
    kafka = test_settings.kafka
    guessed = Credential(username="canhgac-collectors", password=SecretStr("guess"))
    wrong = kafka.model_copy(
        update={"security": kafka.security.model_copy(update={"credentials": {"collectors": guessed}})}
    )
    with pytest.raises(KafkaError):
        await produce(wrong, "collectors", kafka.topics.raw, b"x")
    # No SASL at all, TLS only: the broker closes the connection, nothing is read.
    plain = AIOKafkaConsumer(
        kafka.topics.raw,
        bootstrap_servers=kafka.bootstrap_servers,
        security_protocol="SSL",
        ssl_context=client_security(kafka, "admin")["ssl_context"],
        request_timeout_ms=5000,
    )
    with pytest.raises(KafkaError):
        await asyncio.wait_for(plain.start(), 20)
    await plain.stop()


async def test_an_unauthenticated_opensearch_request_gets_401(test_settings: Settings) -> None:
    cfg = test_settings.opensearch
    for auth in (None, ("canhgac-api", "wrong password")):
        client = AsyncOpenSearch(hosts=[cfg.url], http_auth=auth, ca_certs=cfg.ca_file, max_retries=0)
        try:
            with pytest.raises(AuthenticationException) as refused:
                await client.search(index=cfg.alerts_index)
            assert refused.value.status_code == 401
        finally:
            await client.close()


async def test_only_the_api_may_write_sessions_and_users(test_settings: Settings) -> None:
    """Closes "anyone who can write one document in OpenSearch can mint an admin session"."""
    cfg = test_settings.opensearch
    session = {"username": "admin", "role": "admin", "expires_at": "2099-01-01T00:00:00Z"}
    api = make_client(cfg, component="api")
    try:
        await api.index(index=cfg.sessions_index, id="minted-by-api", body=session, refresh=True)
    finally:
        await api.close()
    for component in ("indexer", "alert_indexer", "detector", "collectors", "normalizer", "source_health", "retention"):
        client = make_client(cfg, component=component)  # type: ignore[arg-type]
        try:
            for index in (cfg.sessions_index, cfg.users_index):
                with pytest.raises(AuthorizationException):
                    await client.index(index=index, id=f"minted-by-{component}", body=session)
        finally:
            await client.close()
    admin = make_client(cfg, component="admin")
    try:
        await admin.indices.delete(index=f"{cfg.config_index_prefix}-*")
    finally:
        await admin.close()


async def test_the_indexer_may_not_read_users_nor_write_alerts(test_settings: Settings) -> None:
    cfg = test_settings.opensearch
    indexer = make_client(cfg, component="indexer")
    try:
        with pytest.raises(AuthorizationException):
            await indexer.search(index=cfg.users_index)
        with pytest.raises(AuthorizationException):
            await indexer.index(index=cfg.alerts_index, id="forged", body={"status": "closed"})
    finally:
        await indexer.close()


async def test_a_forged_envelope_agency_does_not_reach_the_event(test_settings: Settings) -> None:
    """Through real Kafka: a record whose envelope claims another agency is normalised with the
    agency of the source the collector proved (its declaration)."""
    from canhgac.core.config import SourceConfig

    settings = test_settings.model_copy(
        update={"sources": (SourceConfig(id="win-dc", agency="so-noi-vu", format="syslog"),)}
    )
    runtime = Runtime(settings, stages=("normalizer", "indexer"), collectors=False, api=False)
    task = asyncio.create_task(runtime.run())
    client = make_client(settings.opensearch, component="admin")
    try:
        await asyncio.wait_for(runtime.started.wait(), 120)
        await produce(settings, "collectors", settings.kafka.topics.raw, forged_envelope("so-tai-chinh"))

        async def stored() -> list[dict]:
            index = f"{settings.opensearch.index_prefix}.*"
            await client.indices.refresh(index=index, allow_no_indices=True)
            found = await client.search(index=index, body={"size": 10}, allow_no_indices=True)
            return [h["_source"] for h in found["hits"]["hits"]]

        (event,) = await eventually(stored, timeout_secs=60)
        assert event["canhgac"]["source_id"] == "win-dc"
        assert event["canhgac"]["agency"] == "so-noi-vu"
        assert orjson.dumps(event).find(b"so-tai-chinh") == -1
    finally:
        runtime.request_stop()
        await asyncio.wait_for(task, 60)
        await client.close()
