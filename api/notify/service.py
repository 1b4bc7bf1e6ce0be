"""Acknowledgement links are single-use, and acknowledging never undoes triage.

The use of a link is recorded in OpenSearch (`<config_index_prefix>-ack-links`, one document per
token, id = SHA-256 of the token, written with `op_type=create`), not in the notifier's SQLite
outbox: links are followed at the API, which may run in another process or on another machine
than the notifier, and several API replicas must agree that a link was used. Creating a document
by id is atomic in OpenSearch, so of two simultaneous clicks exactly one wins.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

from canhgac.api.alerts import service as alerts_service
from canhgac.api.auth.models import Principal
from canhgac.core.alert import Status
from canhgac.core.config import OpenSearchConfig
from canhgac.core.errors import BackendUnavailable, Conflict
from canhgac.core.index import Index
from opensearchpy import AsyncOpenSearch

log = logging.getLogger(__name__)

ACKNOWLEDGEABLE = Status.NEW  # an on-call link acknowledges a new alert, and changes nothing else


def ack_links_index(cfg: OpenSearchConfig) -> str:
    return f"{cfg.config_index_prefix}-ack-links"


def token_id(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def was_used(client: AsyncOpenSearch, index: str, token: str) -> bool:
    return await Index(client, index).find(token_id(token)) is not None


async def claim(client: AsyncOpenSearch, index: str, token: str, alert_id: str, client_ip: str | None) -> bool:
    """Record the token's use; False when it was already used."""
    body = {"alert_id": alert_id, "used_at": _iso(datetime.now(UTC)), "client_ip": client_ip}
    try:
        await Index(client, index).put(token_id(token), body, create=True, refresh="wait_for")
    except Conflict:
        return False
    return True


async def release(client: AsyncOpenSearch, index: str, token: str) -> None:
    """Undo a claim whose acknowledgement could not be written, so the link can be tried again."""
    try:
        await Index(client, index).delete(token_id(token), refresh="wait_for")
    except BackendUnavailable as exc:  # the link stays used: the on-call person acknowledges in the console
        log.warning("used ack link not released: %s", exc)


async def purge_older_than(client: AsyncOpenSearch, index: str, days: float) -> None:
    """Records of used links are kept while a link could still be valid (its TTL), then dropped."""
    try:
        await Index(client, index).delete_by_query(
            {"range": {"used_at": {"lt": f"now-{int(days * 86400)}s"}}}, wait=False
        )
    except BackendUnavailable as exc:  # housekeeping only
        log.info("old ack link records not purged this time: %s", exc)


def acknowledge_if_new(principal: Principal, comment: str) -> alerts_service.Change:
    """new → acknowledged; any other status is left as it is (Conflict says which): a link mailed
    before an analyst took the alert must not reopen it or erase its resolution."""
    to_acknowledged = alerts_service.status_change(principal, Status.ACKNOWLEDGED, None, comment)

    def apply(alert: dict[str, Any]) -> dict[str, Any]:
        status = alert.get("status") or ACKNOWLEDGEABLE
        if status != ACKNOWLEDGEABLE:
            raise Conflict(f"the alert is already {status}; the link changes nothing")
        return to_acknowledged(alert)

    return apply
