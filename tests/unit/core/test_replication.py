"""Replication by configuration: what `ensure_topics` asks Kafka for and what the index templates
ask OpenSearch for come from the settings, with production-safe defaults."""

from __future__ import annotations

import pytest
from aiokafka.errors import InvalidReplicationFactorError, RequestTimedOutError, TopicAlreadyExistsError
from canhgac.api.indices import api_templates
from canhgac.core.config import KafkaConfig, OpenSearchConfig, Settings, TopicsConfig
from canhgac.core.errors import BackendUnavailable, ConfigError
from canhgac.core.kafka import raise_refused, topic_specs
from canhgac.core.store import alerts_template, events_template, sources_template
from pydantic import ValidationError


def test_production_defaults_survive_losing_one_broker_or_node() -> None:
    settings = Settings()
    assert settings.kafka.topics.replication_factor == 3
    assert settings.kafka.topics.min_insync_replicas == 2
    assert settings.opensearch.number_of_replicas == 1
    assert settings.opensearch.number_of_shards == 1


def test_topics_are_created_with_the_configured_replication() -> None:
    cfg = KafkaConfig(topics=TopicsConfig(partitions=6, replication_factor=3, min_insync_replicas=2))
    specs = topic_specs(cfg, [cfg.topics.raw, cfg.topics.events])
    assert [t.name for t in specs] == ["canhgac.raw.v1", "canhgac.events.v1"]
    for spec in specs:
        assert spec.num_partitions == 6
        assert spec.replication_factor == 3
        assert spec.topic_configs == {"min.insync.replicas": "2"}


def test_the_notifier_state_topic_has_one_compacted_partition_replicated_as_the_others() -> None:
    cfg = KafkaConfig(topics=TopicsConfig(partitions=6, replication_factor=3, min_insync_replicas=2))
    (spec,) = topic_specs(cfg, [cfg.topics.notifier_state])
    assert (spec.num_partitions, spec.replication_factor) == (1, 3)  # one partition: one owner
    assert spec.topic_configs["cleanup.policy"] == "compact"
    assert spec.topic_configs["min.insync.replicas"] == "2"


def test_single_node_values() -> None:
    cfg = KafkaConfig(topics=TopicsConfig(replication_factor=1, min_insync_replicas=1))
    (spec,) = topic_specs(cfg, ["x"])
    assert spec.replication_factor == 1
    assert spec.topic_configs == {"min.insync.replicas": "1"}


def test_more_insync_replicas_than_copies_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="min_insync_replicas"):
        TopicsConfig(replication_factor=2, min_insync_replicas=3)
    with pytest.raises(ValidationError):
        TopicsConfig(replication_factor=0)


def test_a_refused_topic_stops_the_start_with_kafkas_reason() -> None:
    # Before: the CreateTopics answer was not read, so a factor above the number of brokers was
    # logged as "created" and every producer then failed on a topic that did not exist.
    refused = [
        (
            "canhgac.raw.v1",
            InvalidReplicationFactorError.errno,
            "Replication factor: 3 larger than available brokers: 1.",
        )
    ]
    with pytest.raises(ConfigError, match="larger than available brokers") as caught:
        raise_refused(refused)
    assert not caught.value.retriable
    assert "canhgac.raw.v1" in str(caught.value)


def test_existing_topics_are_fine_and_retriable_refusals_are_retried() -> None:
    raise_refused([("a", 0, None), ("b", TopicAlreadyExistsError.errno, "exists")])
    with pytest.raises(BackendUnavailable):
        raise_refused([("a", RequestTimedOutError.errno, "slow")])


def test_index_templates_take_shards_and_replicas_from_the_settings() -> None:
    cfg = OpenSearchConfig(number_of_shards=4, number_of_replicas=2)
    events = events_template(cfg)["template"]["settings"]
    assert (events["number_of_shards"], events["number_of_replicas"]) == (4, 2)
    alerts = alerts_template(cfg)["template"]["settings"]
    assert (alerts["number_of_shards"], alerts["number_of_replicas"]) == (1, 2)
    assert sources_template(cfg)["template"]["settings"]["number_of_replicas"] == 2
    api = api_templates(cfg)
    assert api  # users, sessions, exceptions, rules, sources, audit
    for name, template in api.items():
        assert template["template"]["settings"]["number_of_replicas"] == 2, name


def test_single_node_indices_have_no_replicas() -> None:
    cfg = OpenSearchConfig(number_of_replicas=0)
    assert events_template(cfg)["template"]["settings"]["number_of_replicas"] == 0
    assert all(t["template"]["settings"]["number_of_replicas"] == 0 for t in api_templates(cfg).values())


def test_templates_cover_the_configured_names() -> None:
    cfg = OpenSearchConfig(index_prefix="logs-x", alerts_index="alerts-x", sources_index="sources-x")
    assert events_template(cfg)["index_patterns"] == ["logs-x.*-*"]
    assert alerts_template(cfg)["index_patterns"] == ["alerts-x"]
    assert sources_template(cfg)["index_patterns"] == ["sources-x"]
