"""Kafka ACLs: what each component's principal may do, derived from the settings.

The matrix follows the data flow (docs/security.md): only collectors write the raw topic; only the
detector, source health (its "source silent" alerts), the notifier (escalation state of its own
alerts) and the API (analysts' changes) write the alerts topic; each stage reads only its input.
Topic grants are PREFIXED on the configured topic names, so a deployment's names and any name that
extends them (the tests' per-run topics `canhgac.raw.v1.t<run>`) are covered and nothing else.
Consumer groups are `<group_prefix>-<stage>`: every consuming stage may use groups that start with
the prefix. Creating topics and changing ACLs are left to the admin principal (a super user).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError, for_code
from aiokafka.protocol.admin import CreateAclsRequest
from canhgac.core.config import Component, KafkaConfig
from canhgac.core.errors import BackendUnavailable, ConfigError
from canhgac.core.kafka import client_security

log = logging.getLogger(__name__)


# Wire values from the Kafka protocol (org.apache.kafka.common.acl / resource).
class ResourceType(IntEnum):
    TOPIC = 2
    GROUP = 3


class PatternType(IntEnum):
    PREFIXED = 4


class Operation(IntEnum):
    READ = 3
    WRITE = 4
    DESCRIBE = 8


_ALLOW = 3

Access = Literal["read", "write"]


@dataclass(frozen=True)
class Grant:
    component: Component
    resource: ResourceType
    name: str  # a prefix (PREFIXED pattern)
    access: Access

    @property
    def operations(self) -> tuple[Operation, ...]:
        if self.resource is ResourceType.GROUP:
            return (Operation.READ,)  # join, fetch and commit offsets (implies DESCRIBE)
        if self.access == "read":
            return (Operation.READ, Operation.DESCRIBE)
        return (Operation.WRITE, Operation.DESCRIBE)


def grants(cfg: KafkaConfig) -> list[Grant]:
    """Every component's grants, in the order of the data flow."""
    t = cfg.topics
    matrix: dict[Component, list[tuple[str, Access]]] = {
        "collectors": [(t.raw, "write")],
        "normalizer": [(t.raw, "read"), (t.events, "write"), (t.dlq, "write")],
        "indexer": [(t.events, "read"), (t.dlq, "write")],
        "detector": [
            (t.events, "read"),
            (t.alerts, "write"),
            (t.dlq, "write"),
            # its internal topics (the correlator runs as the detector): re-keyed matches, changelog
            (t.correlation, "read"),
            (t.correlation, "write"),
            (t.correlation_state, "read"),
            (t.correlation_state, "write"),
        ],
        "source_health": [(t.events, "read"), (t.alerts, "write"), (t.dlq, "write")],
        "alert_indexer": [(t.alerts, "read"), (t.dlq, "write")],
        "notifier": [
            (t.alerts, "read"),
            (t.alerts, "write"),
            (t.dlq, "write"),
            # its election and state snapshots (docs/notifications.md, Replicas)
            (t.notifier_state, "read"),
            (t.notifier_state, "write"),
            (t.notify_routes, "read"),  # the agencies' own routes, followed live
        ],
        # analysts' alert changes; the agencies' routes (it lists them back from the same topic)
        "api": [(t.alerts, "write"), (t.notify_routes, "write"), (t.notify_routes, "read")],
    }
    out: list[Grant] = []
    for component, topics in matrix.items():
        out += [Grant(component, ResourceType.TOPIC, name, access) for name, access in topics]
        if any(access == "read" for _, access in topics):
            out.append(Grant(component, ResourceType.GROUP, cfg.group_prefix, "read"))
    return out


def principal(cfg: KafkaConfig, component: Component) -> str:
    credential = cfg.security.credentials.get(component)
    if credential is None:
        raise ConfigError(f"no Kafka credentials for the {component} component", where="kafka.security.credentials")
    return f"User:{credential.username}"


async def apply_acls(cfg: KafkaConfig) -> int:
    """Create the ACLs of every component that has credentials, as the admin principal.

    Creating an ACL that exists is a no-op, so this runs at every start-up of a local deployment.
    It never removes ACLs: a right taken out of the matrix is revoked by hand (kafka-acls --remove).
    Returns how many ACL bindings were sent."""
    if not cfg.security.protocol.startswith("SASL"):
        raise ConfigError("ACLs need authenticated principals: set kafka.security.protocol to SASL_SSL")
    bindings = [
        (g, principal(cfg, g.component), op)
        for g in grants(cfg)
        if g.component in cfg.security.credentials
        for op in g.operations
    ]
    client = AIOKafkaClient(
        bootstrap_servers=cfg.bootstrap_servers, client_id=f"{cfg.client_id}-acl-setup", **client_security(cfg, "admin")
    )
    try:
        await client.bootstrap()
    except KafkaError as exc:
        raise BackendUnavailable(f"Kafka unreachable at {cfg.bootstrap_servers}: {exc}") from exc
    try:
        node = client.get_random_node()
        for grant, who, op in bindings:
            request = CreateAclsRequest(
                resource_type=int(grant.resource),
                resource_name=grant.name,
                resource_pattern_type_filter=int(PatternType.PREFIXED),
                principal=who,
                host="*",
                operation=int(op),
                permission_type=_ALLOW,
            )
            response = await client.send(node, request)
            error_code, message = response.creation_responses[0][:2]
            if error_code:
                raise for_code(error_code)(f"ACL {who} {op.name} {grant.resource.name} {grant.name}*: {message}")
    finally:
        await client.close()
    log.info("Kafka ACLs in place: %d bindings for %d principals", len(bindings), len({b[1] for b in bindings}))
    return len(bindings)
