"""Who is sending: a per-source ingest key, in any of the headers shippers know how to send.

- `Authorization: Bearer <key>` or `X-Canhgac-Key: <key>` (native endpoint, scripts);
- `Authorization: Basic base64(<source id>:<key>)` (Filebeat, Fluent Bit, Vector, NXLog, Logstash);
- `Authorization: ApiKey base64(<source id>:<key>)` (Elastic API key form).

Keys are stored as SHA-256 (see SourceDirectory.by_key). 401 = no or wrong credentials: an
unknown source id, a wrong key and a key of another source all get the same answer
(`bad_ingest_key`), so a stranger cannot learn which source ids exist; the log says which it was.
403 = the right key used where its own source may not send (transport, address), or whose source
an admin disabled (`source_disabled`: the shipper keeps its data and retries until it is enabled,
as Splunk's HEC answers a disabled token).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from canhgac.collectors.base import SourceDirectory
from canhgac.core.config import SourceConfig


class AuthError(Exception):
    def __init__(self, status: int, reason: str, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason  # metric label, and `reason` in the answer
        self.message = message  # the answer
        self.detail = detail or message  # the log line: may name what the answer must not


def _not_recognised(detail: str) -> AuthError:
    return AuthError(401, "bad_ingest_key", "ingest key not recognised for this source", detail)


def credentials(headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(claimed source id, key) from the request headers; (None, None) when there are none."""
    header = headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    scheme, value = scheme.lower(), value.strip()
    if scheme == "bearer" and value:
        return None, value
    if scheme in ("basic", "apikey") and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return (None, value) if scheme == "apikey" else (None, None)
        user, sep, key = decoded.partition(":")
        return (user or None, key) if sep else (None, decoded)
    key = headers.get("x-canhgac-key", "").strip()
    return (None, key) if key else (None, None)


def authenticate(
    directory: SourceDirectory, headers: Mapping[str, str], ip: str | None, *, path_source_id: str | None
) -> SourceConfig:
    claimed, key = credentials(headers)
    if not key:
        raise AuthError(401, "missing_credentials", "an ingest key is required")
    source = directory.by_key(key)
    for named in (claimed, path_source_id):
        if named is not None and named not in directory.sources:
            raise _not_recognised(f"unknown source {named!r}")
    if source is None:
        raise _not_recognised("ingest key not recognised")
    for named in (claimed, path_source_id):
        if named is not None and named != source.id:
            raise _not_recognised(f"a key of source {source.id!r} used for source {named!r}")
    if not source.enabled:
        raise AuthError(403, "source_disabled", f"source {source.id!r} is disabled")
    if not directory.accepts(source):
        raise AuthError(403, "transport_not_allowed", f"source {source.id!r} may not send over HTTP")
    if not directory.address_allowed(source, ip):
        raise AuthError(403, "unknown_sender", f"address {ip} is not allowed for source {source.id!r}")
    return source
