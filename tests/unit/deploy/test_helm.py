"""The Helm chart (deploy/helm/canhgac) lints and renders, and what it renders is what an operator
needs: a Deployment per stage, every pod non-root with probes and resources, each pod only its own
component's passwords, HPAs on consumer lag, and settings Canhgac itself accepts.

helm comes from the Go module proxy, built once by deploy/local/install.sh into the cache dir."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from canhgac.core.config import load_settings
from canhgac.core.metrics import Metrics
from canhgac.pipeline.catalog import ALL_STAGES

from canhgac.cmd_run import parse_instance
from tests.unit.deploy.support import DEPLOY, HELM, expected_secrets

CHART = DEPLOY / "helm" / "canhgac"
TEST_VALUES = CHART / "ci" / "test-values.yaml"
KUBE_VERSION = "1.30.0"
AUTOSCALED = {"normalizer", "indexer", "alert-indexer"}  # values.yaml defaults


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    assert HELM.exists(), f"{HELM} is missing: deploy/local/install.sh builds it"
    return subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=120)


def render(*extra: str) -> list[dict[str, Any]]:
    result = helm("template", "soc", str(CHART), "--namespace", "canhgac", "--kube-version", KUBE_VERSION, *extra)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    return render("-f", str(TEST_VALUES))


def of_kind(docs: list[dict[str, Any]], *kinds: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] in kinds]


def component(doc: dict[str, Any]) -> str:
    return str(doc["metadata"]["labels"]["app.kubernetes.io/component"])


def test_lint_is_clean() -> None:
    result = helm("lint", "--strict", str(CHART), "-f", str(TEST_VALUES), "--kube-version", KUBE_VERSION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_a_deployment_per_stage_runs_that_stage(manifests: list[dict[str, Any]]) -> None:
    deployments = {component(d): d for d in of_kind(manifests, "Deployment")}
    assert set(deployments) == {*ALL_STAGES, "api"}
    for stage in ALL_STAGES:
        (container,) = deployments[stage]["spec"]["template"]["spec"]["containers"]
        assert container["args"] == ["run", "--instance", stage]
        assert parse_instance(container["args"][2]) == (stage, 0)
    (collectors,) = of_kind(manifests, "StatefulSet")
    assert collectors["spec"]["template"]["spec"]["containers"][0]["args"] == ["run", "--stages", "", "--no-api"]
    assert collectors["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"  # the spool outlives pods


def test_every_pod_runs_non_root_with_probes_and_resources(manifests: list[dict[str, Any]]) -> None:
    workloads = of_kind(manifests, "Deployment", "StatefulSet")
    assert len(workloads) == len(ALL_STAGES) + 2
    for workload in workloads:
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        for container in pod["containers"]:
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert not sc.get("privileged"), name
            ports = {p["name"] for p in container["ports"]}
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
            assert container["livenessProbe"]["httpGet"]["port"] in ports, name
            assert container["readinessProbe"]["httpGet"]["port"] in ports, name
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][bound]), (name, bound)
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert {"/tmp", "/var/lib/canhgac", "/etc/canhgac/canhgac.yml"} <= mounts, name  # read-only root


def test_each_pod_gets_only_its_own_components_passwords(manifests: list[dict[str, Any]]) -> None:
    (secret,) = of_kind(manifests, "Secret")
    keys = set(secret["stringData"])
    for workload in of_kind(manifests, "Deployment", "StatefulSet"):
        volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
        items = {i["key"] for i in volumes["secrets"]["secret"]["items"]}
        want = {f"{backend}-{comp}.password" for backend, comp in expected_secrets(component(workload))}
        assert items == want, component(workload)
        assert items <= keys
        assert volumes["secrets"]["secret"]["secretName"] == secret["metadata"]["name"]


def test_the_settings_are_valid_canhgac_settings(manifests: list[dict[str, Any]], tmp_path: Path) -> None:
    (config_map,) = of_kind(manifests, "ConfigMap")
    path = tmp_path / "canhgac.yml"
    path.write_text(config_map["data"]["canhgac.yml"], encoding="utf-8")
    settings = load_settings(path)
    assert settings.data_dir == "/var/lib/canhgac"
    assert settings.metrics_listener.host == "0.0.0.0"
    assert settings.kafka.topics.replication_factor == 3 and settings.kafka.topics.min_insync_replicas == 2
    (secret,) = of_kind(manifests, "Secret")
    named = {c.password_file for c in settings.kafka.security.credentials.values()}
    named |= {c.password_file for c in settings.opensearch.credentials.values()}
    assert named == {f"/etc/canhgac/secrets/{key}" for key in secret["stringData"]}
    for workload in of_kind(manifests, "Deployment", "StatefulSet"):
        container = workload["spec"]["template"]["spec"]["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        probe_port = ports[container["livenessProbe"]["httpGet"]["port"]]
        # The probes reach the listener the process really opens.
        assert probe_port == (settings.api.port if component(workload) == "api" else settings.metrics_listener.port)


def test_autoscaling_follows_consumer_lag(manifests: list[dict[str, Any]]) -> None:
    hpas = {component(h): h for h in of_kind(manifests, "HorizontalPodAutoscaler")}
    assert set(hpas) == AUTOSCALED
    for stage, hpa in hpas.items():
        (metric,) = hpa["spec"]["metrics"]
        assert metric["type"] == "External"
        assert metric["external"]["metric"]["name"] == "canhgac_consumer_lag_records"
        assert metric["external"]["metric"]["selector"]["matchLabels"]["stage"] == stage
        assert hpa["spec"]["scaleTargetRef"]["name"].endswith(f"-{stage}")
    deployments = {component(d): d for d in of_kind(manifests, "Deployment")}
    for stage in ALL_STAGES:  # the HPA owns the replica count of the stages it scales
        assert ("replicas" in deployments[stage]["spec"]) == (stage not in AUTOSCALED), stage


def test_the_exported_lag_metric_is_the_one_the_hpa_reads() -> None:
    names = {m.name for m in Metrics().registry.collect()}
    assert "canhgac_consumer_lag_records" in names


def test_an_existing_secret_is_used_as_it_is() -> None:
    docs = render("--set", "credentials.existingSecret=from-vault", "--set", "caSecret=ca")
    assert of_kind(docs, "Secret") == []
    for workload in of_kind(docs, "Deployment", "StatefulSet"):
        volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
        assert volumes["secrets"]["secret"]["secretName"] == "from-vault"


def test_missing_passwords_fail_the_render_with_a_reason() -> None:
    result = helm("template", "soc", str(CHART), "--kube-version", KUBE_VERSION)
    assert result.returncode != 0
    assert "credentials.kafka.collectors" in result.stderr
