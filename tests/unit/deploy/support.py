"""What the deploy tests share: the repository, where install.sh puts helm, what each component's
principal may use (core/config.py `Component`; the same table as the chart's and compose's)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
CACHE_DIR = Path(os.environ.get("CANHGAC_CACHE_DIR", "/var/tmp/canhgac-cache"))
HELM = CACHE_DIR / "bin" / "helm"

# Which backend each component's principal talks to (the indexer process also runs retention).
KAFKA_COMPONENTS = {
    "collectors",
    "normalizer",
    "indexer",
    "detector",
    "alert_indexer",
    "source_health",
    "notifier",
    "api",
}
OPENSEARCH_COMPONENTS = {"collectors", "indexer", "detector", "alert_indexer", "source_health", "api", "retention"}


def components_of(process: str) -> set[str]:
    """The principals one process acts as: a stage (`alert-indexer`), `collectors` or `api`."""
    component = process.replace("-", "_")
    return {component, "retention"} if component == "indexer" else {component}


def expected_secrets(process: str) -> set[tuple[str, str]]:
    """(backend, component) pairs whose passwords a process needs, and no others."""
    wanted = set()
    for component in components_of(process):
        if component in KAFKA_COMPONENTS:
            wanted.add(("kafka", component))
        if component in OPENSEARCH_COMPONENTS:
            wanted.add(("opensearch", component))
    return wanted
