"""Dependencies the routes receive (Dispatch style: `Annotated` aliases, nothing made at import).

Authentication: a session cookie (browser; unsafe methods also need the `X-CSRF-Token` header
equal to the session's CSRF token, which the `canhgac_csrf` cookie also carries) or an
`Authorization: Bearer` token (scripts; no CSRF, browsers never attach it on their own).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

from canhgac.api.alert_publisher import AlertPublisher
from canhgac.api.auth import service as auth_service
from canhgac.api.auth.models import Permission, Principal
from canhgac.api.auth.rate_limit import LoginLimiter
from canhgac.api.indices import ensure_api_indices
from canhgac.api.users.service import get_user
from canhgac.core.config import Settings
from canhgac.core.errors import PermissionDenied, Unauthenticated
from canhgac.core.metrics import Metrics
from fastapi import Depends, Request
from opensearchpy import AsyncOpenSearch

log = logging.getLogger(__name__)

SESSION_COOKIE = "canhgac_session"
CSRF_COOKIE = "canhgac_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class AppState:
    settings: Settings
    metrics: Metrics
    opensearch: AsyncOpenSearch
    limiter: LoginLimiter
    cache: auth_service.TtlCache = field(default_factory=auth_service.TtlCache)
    publisher: AlertPublisher | None = None  # alert changes -> canhgac.alerts.v1 (stops escalation)
    indices_ready: bool = False
    _indices_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def publish_alert(self, alert: dict[str, object]) -> None:
        """Tell the pipeline (the notifier) about an analyst's change, in the background: the
        change is already saved, and the analyst's click must not wait on Kafka."""
        if self.publisher is not None:
            self.publisher.publish_soon(alert)

    async def ensure_indices(self) -> None:
        """Create the API's indices once; retried on the next request if OpenSearch was down."""
        if self.indices_ready:
            return
        async with self._indices_lock:
            if not self.indices_ready:
                await ensure_api_indices(self.opensearch, self.settings.opensearch)
                self.indices_ready = True


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.canhgac
    return state


State = Annotated[AppState, Depends(get_state)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def authenticate(request: Request, state: State) -> Principal:
    await state.ensure_indices()
    cfg = state.settings.opensearch
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, secret = authorization.partition(" ")
        if scheme.lower() != "bearer":
            raise Unauthenticated("use `Authorization: Bearer <token>`")
        cred = await auth_service.resolve(state.opensearch, cfg.sessions_index, secret.strip(), "token", state.cache)
    else:
        secret = request.cookies.get(SESSION_COOKIE, "")
        if not secret:
            raise Unauthenticated("login required")
        cred = await auth_service.resolve(state.opensearch, cfg.sessions_index, secret, "session", state.cache)
        if request.method not in SAFE_METHODS:
            header = request.headers.get(CSRF_HEADER, "")
            cookie = request.cookies.get(CSRF_COOKIE, "")
            expected = cred.csrf or ""
            if not (
                header and expected and hmac.compare_digest(header, expected) and hmac.compare_digest(cookie, expected)
            ):
                raise PermissionDenied("CSRF token missing or wrong: send the X-CSRF-Token header")
    user = state.cache.get(f"user:{cred.username}")
    if user is None:
        user = await get_user(state.opensearch, cfg.users_index, cred.username)
        if user is None:
            raise Unauthenticated("user no longer exists")
        state.cache.put(f"user:{cred.username}", user)
    if user.get("disabled"):
        raise Unauthenticated("user is disabled")
    return Principal(
        username=user["username"],
        role=user["role"],
        agency=user.get("agency"),
        via=cred.kind,
        credential_id=cred.id,
        csrf_token=cred.csrf,
    )


def require(permission: Permission) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.can(permission):
            raise PermissionDenied(f"role {principal.role} may not do this ({permission.value})")
        return principal

    return check


Authenticated = Annotated[Principal, Depends(authenticate)]
Reader = Annotated[Principal, Depends(require(Permission.READ))]
TuningReader = Annotated[Principal, Depends(require(Permission.READ_TUNING))]
Triager = Annotated[Principal, Depends(require(Permission.TRIAGE))]
Tuner = Annotated[Principal, Depends(require(Permission.TUNE))]
RuleManager = Annotated[Principal, Depends(require(Permission.MANAGE_RULES))]
Admin = Annotated[Principal, Depends(require(Permission.ADMIN))]
ExceptionRequester = Annotated[Principal, Depends(require(Permission.REQUEST_EXCEPTION))]
RouteManager = Annotated[Principal, Depends(require(Permission.MANAGE_ROUTES))]
