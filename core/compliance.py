"""Compliance by security level (issue 16, item 2): log categories, the policy file, coverage.

**Categories.** Every stored event is classified into zero or more log categories from the fields
the normalisers set (ECS `event.category`, `canhgac.dataset`, `canhgac.logsource.category` and
`.service`); the table `CLASSIFICATION` is the one definition, turned both into a Python test
(`classify`, for unit tests and documentation) and into OpenSearch queries (`category_query`, what
coverage counts), so the two cannot disagree.

**Policy.** A YAML file (`compliance.policy_file`, default the shipped `core/compliance_levels.yml`) lists for
each security level 1–5 the categories it requires and how long a required category may stay
silent before it is "missing" (`missing_after_secs`). `load_policy` refuses a bad file with a
`ConfigError` naming the file and what is wrong.

**Coverage** (computed by the API process, api/compliance/service.py): per information system and
category, the last time an event of that category from the system's hosts or sources was stored.
A required category with nothing for `missing_after_secs` is missing; the API raises one
"log category missing" alert (`canhgac-coverage-missing`) per system, category and silence, and
clears it when the category arrives again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import yaml
from canhgac.core import safe_yaml
from canhgac.core.errors import ConfigError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

COVERAGE_RULE_ID: Final = "canhgac-coverage-missing"
# Shipped inside the package (a wheel has no deploy/ folder); copy it to edit it (compliance.policy_file).
DEFAULT_POLICY_FILE: Final = Path(__file__).resolve().parent / "compliance_levels.yml"


class LogCategory(StrEnum):
    AUTHENTICATION = "authentication"  # logons, logoffs, failures, sessions
    ADMIN = "admin"  # administrative and privileged actions: accounts, groups, rights, configuration
    NETWORK = "network"  # firewalls, routers, VPN: connections allowed and denied
    WEB = "web"  # web server access and error logs
    SYSTEM = "system"  # operating system events: processes, services, files, audit subsystem
    DATABASE = "database"  # database servers: logons, queries, schema and rights changes
    MALWARE = "malware"  # antivirus, EDR, IDS/IPS detections


# category -> conditions; an event is in the category when ANY condition holds, and a condition
# (field -> accepted values) holds when the field (or one of its values, for lists) is among them.
CLASSIFICATION: Final[Mapping[LogCategory, Sequence[Mapping[str, Sequence[str]]]]] = {
    LogCategory.AUTHENTICATION: (
        {"event.category": ("authentication", "session")},
        {"canhgac.dataset": ("linux.auth",)},
    ),
    LogCategory.ADMIN: ({"event.category": ("iam", "configuration")},),
    LogCategory.NETWORK: (
        {"event.category": ("network",)},
        {"canhgac.logsource.category": ("firewall", "dns", "proxy")},
        {"canhgac.dataset": ("cisco.asa", "fortigate", "pfsense")},
    ),
    LogCategory.WEB: (
        {"event.category": ("web",)},
        {"canhgac.logsource.category": ("webserver",)},
    ),
    LogCategory.SYSTEM: (
        {"event.category": ("process", "host", "file", "driver", "registry", "package")},
        {"canhgac.logsource.service": ("system", "auditd", "sysmon")},
        {"canhgac.dataset": ("auditd",)},
    ),
    LogCategory.DATABASE: ({"event.category": ("database",)},),
    LogCategory.MALWARE: (
        {"event.category": ("malware", "intrusion_detection", "threat")},
        {"canhgac.logsource.category": ("antivirus", "edr", "ids")},
    ),
}


def _values(event: Mapping[str, Any], dotted: str) -> list[str]:
    """The values of a dotted field, nested (`{"event": {"category": …}}`) or flat."""
    node: Any = event.get(dotted)
    if node is None:
        node = event
        for part in dotted.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
    items = node if isinstance(node, list) else [node]
    return [str(v).lower() for v in items if isinstance(v, str | int) and not isinstance(v, bool)]


def classify(event: Mapping[str, Any]) -> set[LogCategory]:
    """The log categories of one stored event (see `CLASSIFICATION`); pipeline errors have none."""
    if (event.get("event") or {}).get("kind") == "pipeline_error":
        return set()
    found = set()
    for category, conditions in CLASSIFICATION.items():
        for condition in conditions:
            if all(set(_values(event, field)) & set(accepted) for field, accepted in condition.items()):
                found.add(category)
                break
    return found


def category_query(category: LogCategory) -> dict[str, Any]:
    """The OpenSearch query of `classify` for one category (keyword fields: exact terms)."""
    should = [
        {"bool": {"filter": [{"terms": {field: list(values)}} for field, values in condition.items()]}}
        for condition in CLASSIFICATION[category]
    ]
    return {
        "bool": {
            "should": should,
            "minimum_should_match": 1,
            "must_not": [{"term": {"event.kind": "pipeline_error"}}],
        }
    }


class LevelPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    requires: tuple[LogCategory, ...] = ()
    # A required category with no event for this long is missing; None: the policy's default.
    missing_after_secs: int | None = Field(default=None, ge=60)
    note: str | None = None  # what the Circular's text says, for the reader of the file

    @field_validator("requires")
    @classmethod
    def _unique(cls, value: tuple[LogCategory, ...]) -> tuple[LogCategory, ...]:
        if len(set(value)) != len(value):
            raise ValueError("a category is listed twice")
        return value


class CompliancePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    missing_after_secs: int = Field(default=86_400, ge=60)
    levels: dict[int, LevelPolicy]

    @model_validator(mode="after")
    def _every_level(self) -> CompliancePolicy:
        given = set(self.levels)
        if given != {1, 2, 3, 4, 5}:
            missing = sorted({1, 2, 3, 4, 5} - given)
            extra = sorted(given - {1, 2, 3, 4, 5})
            parts = ([f"levels missing: {missing}"] if missing else []) + (
                [f"not security levels (1-5): {extra}"] if extra else []
            )
            raise ValueError("; ".join(parts))
        return self

    def required(self, level: int) -> tuple[LogCategory, ...]:
        policy = self.levels.get(level)
        return policy.requires if policy else ()

    def missing_after(self, level: int) -> int:
        policy = self.levels.get(level)
        if policy is None or policy.missing_after_secs is None:
            return self.missing_after_secs
        return policy.missing_after_secs


def load_policy(path: str | Path | None = None) -> CompliancePolicy:
    """Read and check the policy file; `ConfigError` with the file and every problem when bad."""
    where = str(path or DEFAULT_POLICY_FILE)
    try:
        raw: Any = safe_yaml.load(Path(where).read_bytes())
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"compliance policy {where}: cannot read: {exc}", where=where) from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"compliance policy {where}: expected a mapping with `levels:`", where=where)
    try:
        return CompliancePolicy.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors())
        known = ", ".join(c.value for c in LogCategory)
        raise ConfigError(
            f"compliance policy {where}: {problems} (categories: {known})",
            where=where,
        ) from exc


class ComplianceConfig(BaseModel):
    """Settings of coverage by level (`compliance:`); the policy itself is the file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    # The policy table; None is the shipped core/compliance_levels.yml. Re-read when it changes.
    policy_file: str | None = None
    # How often the API recomputes coverage (one aggregation over the event indices).
    interval_secs: float = Field(default=60.0, gt=0)
    # How far back each round looks; older last-seen times are kept from earlier rounds.
    lookback_secs: int = Field(default=2 * 86_400, ge=60)


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
