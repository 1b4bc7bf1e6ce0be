"""The raw envelope contract (topic canhgac.raw.v1, version 1).

Collectors frame bytes into messages and wrap each in an envelope; nothing is parsed at the edge.
Key = source id (so one source's records stay in order on one partition).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from canhgac.core.errors import ParseError
from canhgac.core.ids import new_id

ENVELOPE_VERSION = 1


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class Peer:
    ip: str | None = None
    port: int | None = None
    tls_subject: str | None = None
    # SHA-256 of the verified client certificate (DER), upper-case hex as ECS `tls.client.hash.sha256`.
    tls_hash_sha256: str | None = None


@dataclass(slots=True)
class RawEnvelope:
    source_id: str
    agency: str
    collector: str
    format: str
    message: str | None = None
    payload: dict[str, Any] | None = None
    peer: Peer = field(default_factory=Peer)
    id: str = field(default_factory=new_id)
    received_at: str = field(default_factory=utc_now_iso)
    # Set by a collector when framing found something wrong but kept the bytes (kept, not dropped).
    framing_error: str | None = None
    v: int = ENVELOPE_VERSION

    def to_json(self) -> bytes:
        # Same bytes as `asdict` minus top-level nulls, without asdict's deep copy: collectors
        # serialise every message, so this is on the hot path.
        p = self.peer
        data: dict[str, Any] = {
            "source_id": self.source_id,
            "agency": self.agency,
            "collector": self.collector,
            "format": self.format,
        }
        if self.message is not None:
            data["message"] = self.message
        if self.payload is not None:
            data["payload"] = self.payload
        data["peer"] = {"ip": p.ip, "port": p.port, "tls_subject": p.tls_subject}
        if p.tls_hash_sha256 is not None:  # only over TLS, so plain records keep their bytes
            data["peer"]["tls_hash_sha256"] = p.tls_hash_sha256
        data["id"] = self.id
        data["received_at"] = self.received_at
        if self.framing_error is not None:
            data["framing_error"] = self.framing_error
        data["v"] = self.v
        return orjson.dumps(data)

    @classmethod
    def from_json(cls, raw: bytes) -> RawEnvelope:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ParseError(f"raw envelope is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ParseError("raw envelope is not a JSON object")
        try:
            peer = Peer(**(data.pop("peer", None) or {}))
            return cls(peer=peer, **data)
        except TypeError as exc:
            raise ParseError(f"raw envelope has unexpected fields: {exc}") from exc
