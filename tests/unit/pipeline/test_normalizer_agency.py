"""The normaliser takes an event's agency from the declaration of the source the collector proved,
never from the envelope's `agency` field or from the payload (issue 10, finding 6)."""

from __future__ import annotations

from typing import Any

import orjson
from aiokafka import ConsumerRecord
from canhgac.core.config import CollectorsConfig, KafkaConfig, SourceConfig, StageConfig
from canhgac.core.envelope import Peer, RawEnvelope
from canhgac.core.metrics import Metrics
from canhgac.core.source_registry import UNKNOWN_AGENCY, SourceRegistry
from canhgac.pipeline.normalizer import NormalizerStage

DECLARED = SourceConfig(id="win-dc", agency="so-noi-vu", format="syslog")
LINE = "<38>1 2026-12-06T10:00:00Z dc01 sshd 42 - - Accepted password for lan from 10.0.0.5 port 22 ssh2"


def record(envelope: RawEnvelope, offset: int = 0) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="canhgac.raw.v1",
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=envelope.source_id.encode(),
        value=envelope.to_json(),
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=0,
        headers=(),
    )


async def normalized(stage: NormalizerStage, *envelopes: RawEnvelope) -> list[dict[str, Any]]:
    produced: list[dict[str, Any]] = []

    async def capture(topic: str, items: Any) -> None:
        if topic == stage.kafka.topics.events:
            produced.extend(orjson.loads(value) for _, value in items)

    stage.produce = capture  # type: ignore[method-assign]
    await stage.process([record(e, i) for i, e in enumerate(envelopes)])
    return produced


def stage(collectors: CollectorsConfig | None = None) -> NormalizerStage:
    return NormalizerStage(
        KafkaConfig(), StageConfig(), Metrics(), [DECLARED], collectors=collectors or CollectorsConfig()
    )


async def test_a_forged_envelope_agency_does_not_change_the_events_agency() -> None:
    forged = RawEnvelope(
        source_id="win-dc", agency="so-tai-chinh", collector="syslog-tcp", format="syslog", message=LINE
    )
    (event,) = await normalized(stage(), forged)
    assert event["canhgac"]["source_id"] == "win-dc"
    assert event["canhgac"]["agency"] == "so-noi-vu"


async def test_agency_fields_in_the_payload_are_ignored() -> None:
    payload = {"message": "hi", "canhgac": {"agency": "so-tai-chinh", "source_id": "other"}, "agency": "x"}
    forged = RawEnvelope(
        source_id="win-dc", agency="so-tai-chinh", collector="http", format="json", payload=payload, peer=Peer()
    )
    (event,) = await normalized(stage(), forged)
    assert (event["canhgac"]["source_id"], event["canhgac"]["agency"]) == ("win-dc", "so-noi-vu")


async def test_a_collectors_default_source_gets_that_collectors_default_agency() -> None:
    collectors = CollectorsConfig.model_validate({"syslog_tcp": {"default_agency": "so-tttt"}})
    undeclared = RawEnvelope(
        source_id="syslog-default", agency="so-tai-chinh", collector="syslog-tcp", format="syslog", message=LINE
    )
    from_udp = RawEnvelope(
        source_id="syslog-default", agency="so-tai-chinh", collector="syslog-udp", format="syslog", message=LINE
    )
    tcp, udp = await normalized(stage(collectors), undeclared, from_udp)
    assert tcp["canhgac"]["agency"] == "so-tttt"
    assert udp["canhgac"]["agency"] == UNKNOWN_AGENCY  # the UDP listener's own default


async def test_a_source_nobody_declared_belongs_to_no_agency() -> None:
    stray = RawEnvelope(
        source_id="nobody", agency="so-tai-chinh", collector="syslog-tcp", format="syslog", message=LINE
    )
    (event,) = await normalized(stage(), stray)
    assert event["canhgac"]["agency"] == UNKNOWN_AGENCY
    assert "unknown_source" in event["tags"]


def test_registry_lookup_order_settings_then_api_then_collector_default() -> None:
    registry = SourceRegistry([DECLARED], CollectorsConfig(), None, component="normalizer")
    registry.declared = {
        "win-dc": SourceConfig(id="win-dc", agency="other"),
        "api-src": SourceConfig(id="api-src", agency="so-y-te"),
    }
    assert registry.lookup("win-dc", "http") == DECLARED  # the settings file wins
    assert registry.lookup("api-src", "http").agency == "so-y-te"  # type: ignore[union-attr]
    assert registry.lookup("syslog-default", "syslog-tcp").agency == "unknown"  # type: ignore[union-attr]
    assert registry.lookup("syslog-default", "http") is None  # HTTP ingest has no default source
