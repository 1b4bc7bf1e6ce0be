"""Sessions and bearer tokens. The secret goes to the client; we keep only its SHA-256 digest."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from canhgac.api.auth.passwords import verify_password_async
from canhgac.api.users.service import get_user
from canhgac.core.errors import BackendUnavailable, Unauthenticated
from canhgac.core.index import Index
from opensearchpy import AsyncOpenSearch

log = logging.getLogger(__name__)

Kind = Literal["session", "token"]
TOKEN_PREFIX = "cgt_"  # recognisable in logs and secret scanners
CACHE_TTL_SECS = 5.0  # a revoked session or a disabled user stops working within this time


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Credential:
    id: str
    kind: Kind
    username: str
    csrf: str | None
    expires_at: datetime


class TtlCache:
    """A small in-process cache so each request does not read OpenSearch twice."""

    def __init__(self, ttl_secs: float = CACHE_TTL_SECS, max_items: int = 10_000) -> None:
        self.ttl_secs = ttl_secs
        self.max_items = max_items
        self._items: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> Any:
        item = self._items.get(key)
        if item is None or item[0] < time.monotonic():
            self._items.pop(key, None)
            return None
        return item[1]

    def put(self, key: str, value: Any) -> None:
        if len(self._items) >= self.max_items:
            self._items.clear()
        self._items[key] = (time.monotonic() + self.ttl_secs, value)

    def drop(self, key: str) -> None:
        self._items.pop(key, None)


async def check_password(client: AsyncOpenSearch, users_index: str, username: str, password: str) -> dict[str, Any]:
    user = await get_user(client, users_index, username)
    ok = await verify_password_async(user.get("password_hash") if user else None, password)
    if not user or not ok or user.get("disabled"):
        raise Unauthenticated("wrong user name or password")
    return user


async def issue(
    client: AsyncOpenSearch, index: str, *, kind: Kind, username: str, ttl_secs: int, name: str | None = None
) -> tuple[str, Credential]:
    secret = (TOKEN_PREFIX if kind == "token" else "") + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    cred = Credential(
        id=digest(secret),
        kind=kind,
        username=username,
        csrf=secrets.token_urlsafe(32) if kind == "session" else None,
        expires_at=now + timedelta(seconds=ttl_secs),
    )
    body = {
        "kind": kind,
        "username": username,
        "name": name,
        "csrf": cred.csrf,
        "created_at": _iso(now),
        "expires_at": _iso(cred.expires_at),
    }
    await Index(client, index).put(cred.id, body, refresh="wait_for")
    return secret, cred


async def resolve(client: AsyncOpenSearch, index: str, secret: str, kind: Kind, cache: TtlCache) -> Credential:
    if not secret or len(secret) > 256:
        raise Unauthenticated("login required")
    cred_id = digest(secret)
    cred: Credential | None = cache.get(f"cred:{cred_id}")
    if cred is None:
        src = await Index(client, index).find(cred_id)
        if src is None:
            raise Unauthenticated("session expired or unknown; log in again")
        cred = Credential(
            id=cred_id,
            kind=src["kind"],
            username=src["username"],
            csrf=src.get("csrf"),
            expires_at=datetime.fromisoformat(src["expires_at"].replace("Z", "+00:00")),
        )
        cache.put(f"cred:{cred_id}", cred)
    if cred.kind != kind or cred.expires_at <= datetime.now(UTC):
        raise Unauthenticated("session expired or unknown; log in again")
    return cred


async def revoke(client: AsyncOpenSearch, index: str, cred_id: str, cache: TtlCache) -> None:
    cache.drop(f"cred:{cred_id}")
    await Index(client, index).delete(cred_id, refresh="wait_for")  # already gone is fine


async def revoke_all_of(client: AsyncOpenSearch, index: str, username: str, cache: TtlCache) -> None:
    """A disabled user or a new password ends every session and token of that user."""
    cache.drop(f"user:{username}")
    await Index(client, index).delete_by_query({"term": {"username": username}}, refresh=True)
    cache._items.clear()  # cached credentials of this user are gone too


async def purge_expired(client: AsyncOpenSearch, index: str) -> None:
    try:
        await Index(client, index).delete_by_query({"range": {"expires_at": {"lt": "now"}}}, wait=False)
    except BackendUnavailable as exc:  # housekeeping only; expired credentials are refused anyway
        log.info("expired sessions not purged this time: %s", exc)
