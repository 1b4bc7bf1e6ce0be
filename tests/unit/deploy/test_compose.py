"""The Compose files (deploy/compose) hold what an operator runs: a service per stage plus the
collectors and the API from the Canhgac image, hardened, each with only its own component's
passwords, settings Canhgac accepts, and the official Kafka and OpenSearch images at the versions
the tests run against. (No Compose binary here: the files are read and checked as data.)"""

from __future__ import annotations

import re
from typing import Any

import yaml
from canhgac.core.config import load_settings
from canhgac.pipeline.catalog import ALL_STAGES

from canhgac.cmd_run import parse_instance
from tests.unit.deploy.support import DEPLOY, expected_secrets

COMPOSE = DEPLOY / "compose"


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((COMPOSE / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_a_service_per_stage_plus_collectors_and_api() -> None:
    services = load("compose.yml")["services"]
    assert set(services) == {*ALL_STAGES, "collectors", "api"}
    for stage in ALL_STAGES:
        assert services[stage]["command"] == ["run", "--instance", stage]
        assert parse_instance(stage) == (stage, 0)
    assert services["collectors"]["command"] == ["run", "--stages", "", "--no-api"]
    assert services["api"]["command"] == ["run", "--stages", "", "--no-collectors"]


def test_every_canhgac_container_is_hardened() -> None:
    compose = load("compose.yml")
    for name, svc in compose["services"].items():
        assert svc["user"] == "10001:10001", name
        assert svc["read_only"] is True, name
        assert svc["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in svc["security_opt"], name
        assert svc["build"]["dockerfile"] == "deploy/container/Dockerfile", name
        assert "healthz" in " ".join(svc["healthcheck"]["test"]), name


def test_each_service_gets_only_its_own_passwords() -> None:
    compose = load("compose.yml")
    declared = compose["secrets"]
    for name, secret in declared.items():
        assert secret == {"file": f"./secrets/{name}.password"}
    for name, svc in compose["services"].items():
        want = {f"{backend}-{comp}" for backend, comp in expected_secrets(name)}
        assert set(svc["secrets"]) == want, name
        assert want <= set(declared)


def test_the_settings_are_valid_and_name_the_mounted_secrets() -> None:
    settings = load_settings(COMPOSE / "canhgac.yml")
    secrets = set(load("compose.yml")["secrets"])
    named = {c.password_file for c in settings.kafka.security.credentials.values()}
    named |= {c.password_file for c in settings.opensearch.credentials.values()}
    assert named == {f"/run/secrets/{name}" for name in secrets}
    # The single-node backends of compose.backends.yml need the single-node values.
    assert settings.kafka.topics.replication_factor == 1
    assert settings.opensearch.number_of_replicas == 0


def test_backends_are_the_official_images_at_the_tested_versions() -> None:
    pom = (DEPLOY / "local" / "pom.xml").read_text(encoding="utf-8")
    kafka = re.search(r"<kafka.version>(.+)</kafka.version>", pom)
    opensearch = re.search(r"<opensearch.version>(.+)</opensearch.version>", pom)
    assert kafka and opensearch
    services = load("compose.backends.yml")["services"]
    assert services["kafka"]["image"] == f"apache/kafka:{kafka.group(1)}"
    assert services["opensearch"]["image"] == f"opensearchproject/opensearch:{opensearch.group(1)}"
    assert services["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "path.repo" in services["opensearch"]["environment"]  # snapshots (docs/operations.md)
    canhgac = set(load("compose.yml")["services"])
    assert {name for name in services if "depends_on" in services[name]} == canhgac
