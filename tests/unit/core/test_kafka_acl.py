"""The Kafka ACL matrix (core/kafka_acl.py) and the principals deploy/local creates agree with the
data flow: one writer set per topic, every consumer has its group, every principal has a role."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from canhgac.core.config import COMPONENTS, KafkaConfig
from canhgac.core.errors import ConfigError
from canhgac.core.kafka import client_security
from canhgac.core.kafka_acl import Operation, ResourceType, grants

REPO = Path(__file__).resolve().parents[3]


def who(cfg: KafkaConfig, topic: str, access: str) -> set[str]:
    return {
        g.component for g in grants(cfg) if g.resource is ResourceType.TOPIC and g.name == topic and g.access == access
    }


def test_one_writer_set_per_topic() -> None:
    cfg = KafkaConfig()
    t = cfg.topics
    assert who(cfg, t.raw, "write") == {"collectors"}
    assert who(cfg, t.events, "write") == {"normalizer"}
    assert who(cfg, t.alerts, "write") == {"detector", "source_health", "notifier", "api"}
    assert "collectors" not in who(cfg, t.dlq, "write") and "api" not in who(cfg, t.dlq, "write")


def test_each_stage_reads_only_its_input() -> None:
    cfg = KafkaConfig()
    t = cfg.topics
    assert who(cfg, t.raw, "read") == {"normalizer"}
    assert who(cfg, t.events, "read") == {"indexer", "detector", "source_health"}
    assert who(cfg, t.alerts, "read") == {"alert_indexer", "notifier"}
    assert who(cfg, t.dlq, "read") == set()  # operators read dead letters as admin
    # the notifier's election and state snapshots are its own
    assert who(cfg, t.notifier_state, "read") == who(cfg, t.notifier_state, "write") == {"notifier"}


def test_readers_get_groups_under_the_prefix_and_grants_follow_the_settings() -> None:
    cfg = KafkaConfig.model_validate({"group_prefix": "soc-a", "topics": {"raw": "a.raw"}})
    groups = {g.component for g in grants(cfg) if g.resource is ResourceType.GROUP}
    readers = {g.component for g in grants(cfg) if g.access == "read" and g.resource is ResourceType.TOPIC}
    assert groups == readers
    assert {g.name for g in grants(cfg) if g.resource is ResourceType.GROUP} == {"soc-a"}
    assert who(cfg, "a.raw", "write") == {"collectors"}
    write = next(g for g in grants(cfg) if g.access == "write")
    assert write.operations == (Operation.WRITE, Operation.DESCRIBE)


def test_sasl_without_the_components_credentials_is_a_config_error() -> None:
    cfg = KafkaConfig.model_validate(
        {"security": {"protocol": "SASL_SSL", "credentials": {"api": {"username": "u", "password": "p"}}}}
    )
    assert client_security(cfg, "api")["sasl_plain_username"] == "u"
    with pytest.raises(ConfigError, match="indexer"):
        client_security(cfg, "indexer")
    assert client_security(KafkaConfig(), "indexer") == {"security_protocol": "PLAINTEXT"}


def services_list(name: str) -> list[str]:
    script = (REPO / "deploy" / "local" / "services.sh").read_text(encoding="utf-8")
    match = re.search(rf"^{name}=\(([^)]*)\)", script, re.MULTILINE)
    assert match, name
    return match.group(1).split()


def test_local_principals_are_components_and_each_opensearch_user_has_a_role() -> None:
    kafka_users, opensearch_users = services_list("KAFKA_USERS"), services_list("OPENSEARCH_USERS")
    assert set(kafka_users) | set(opensearch_users) <= set(COMPONENTS)
    assert {g.component for g in grants(KafkaConfig())} | {"admin"} == set(kafka_users)
    mapping = yaml.safe_load((REPO / "deploy" / "opensearch" / "security" / "roles_mapping.yml").read_text())
    roles = yaml.safe_load((REPO / "deploy" / "opensearch" / "security" / "roles.yml").read_text())
    mapped = {user: role for role, body in mapping.items() if role != "_meta" for user in body["users"]}
    for component in opensearch_users:
        role = mapped[f"canhgac-{component.replace('_', '-')}"]
        assert role == "all_access" if component == "admin" else role in roles
