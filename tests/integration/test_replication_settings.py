"""Replication settings reach the real Kafka and OpenSearch (one broker and one node here)."""

from __future__ import annotations

import pytest
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from canhgac.core.config import Settings
from canhgac.core.errors import ConfigError
from canhgac.core.kafka import ensure_topics, make_admin
from canhgac.core.store import ensure_templates, events_index, make_client

pytestmark = pytest.mark.integration


async def topic_configs(settings: Settings, topic: str) -> tuple[int, dict[str, str]]:
    admin = make_admin(settings.kafka, component="admin")  # the secured services' super user
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
        replicas = {len(p["replicas"]) for p in described["partitions"]}
        (response,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        entries = response.resources[0][4]
        return replicas.pop(), {name: value for name, value, *_ in entries}
    finally:
        await admin.close()


async def test_topics_get_the_configured_replication(test_settings: Settings) -> None:
    await ensure_topics(test_settings.kafka)
    replicas, configs = await topic_configs(test_settings, test_settings.kafka.topics.raw)
    assert replicas == 1
    assert configs["min.insync.replicas"] == "1"


async def test_more_copies_than_brokers_stops_the_start(test_settings: Settings) -> None:
    # Before: the refusal was not read; the start went on and every producer failed later.
    kafka = test_settings.kafka.model_copy(
        update={"topics": test_settings.kafka.topics.model_copy(update={"replication_factor": 3})}
    )
    with pytest.raises(ConfigError, match=r"(?i)replication"):
        await ensure_topics(kafka)


async def test_event_indices_get_the_configured_shards_and_replicas(test_settings: Settings) -> None:
    cfg = test_settings.opensearch.model_copy(update={"number_of_shards": 2, "number_of_replicas": 0})
    client = make_client(cfg, component="admin")
    try:
        await ensure_templates(client, cfg)
        stream = events_index(cfg.index_prefix, "linux.auth")
        await client.index(index=stream, body={"@timestamp": "2025-01-01T00:00:00Z", "message": "x"}, refresh=True)
        settings = await client.indices.get_settings(index=stream)
        (index_settings,) = [s["settings"]["index"] for s in settings.values()]
        assert index_settings["number_of_shards"] == "2"
        assert index_settings["number_of_replicas"] == "0"
        alerts = await client.indices.get_settings(index=cfg.alerts_index)
        assert alerts[cfg.alerts_index]["settings"]["index"]["number_of_replicas"] == "0"
        health = await client.cluster.health(index=f"{stream},{cfg.alerts_index}")
        assert health["status"] == "green"  # no replica waiting for a second node
    finally:
        await client.close()
