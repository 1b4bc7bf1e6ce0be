"""Envelopes for the normalizer tests (a plain module: other test folders have their own conftest)."""

from __future__ import annotations

from typing import Any

import canhgac.pipeline.normalize  # noqa: F401  (imports every parser module so registries are full)
from canhgac.core.envelope import Peer, RawEnvelope

# A fixed arrival time keeps year inference (BSD syslog) and golden files deterministic.
RECEIVED_AT = "2026-11-26T01:00:00.000000Z"


def envelope(fmt: str, message: str | None = None, payload: dict[str, Any] | None = None) -> RawEnvelope:
    return RawEnvelope(
        source_id="src-test",
        agency="so-tttt",
        collector="test",
        format=fmt,
        message=message,
        payload=payload,
        peer=Peer(ip="10.0.0.5", port=51514),
        id="01JTESTRAWID0000000000000",
        received_at=RECEIVED_AT,
    )
