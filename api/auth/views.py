from __future__ import annotations

from datetime import timedelta
from typing import Any

from canhgac.api.audit.service import audit, record
from canhgac.api.auth import service
from canhgac.api.auth.models import ROLE_PERMISSIONS, LoginRequest, Me, TokenRequest, TokenResponse, Unlock, Unlocked
from canhgac.api.auth.unlocks import apply_recorded_unlocks, record_unlock, unlocks_index
from canhgac.api.deps import CSRF_COOKIE, SESSION_COOKIE, Admin, Authenticated, State, client_ip
from canhgac.core.errors import RateLimited, Unauthenticated
from fastapi import APIRouter, Request, Response

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


def _secure(request: Request, state: State) -> bool:
    mode = state.settings.api.cookie_secure
    return mode == "always" or (mode == "auto" and request.url.scheme == "https")


async def _login(request: Request, state: State, body: LoginRequest, what: str) -> dict[str, Any]:
    """Check the password under the rate limit; returns the stored user."""
    await state.ensure_indices()
    ip = client_ip(request)
    name = body.username.strip().lower()
    cfg = state.settings.opensearch
    try:
        state.limiter.check(name, ip)
    except RateLimited:
        # An admin may have lifted the wait through another replica or the command line.
        if not await apply_recorded_unlocks(state.opensearch, unlocks_index(cfg), state.limiter, name, ip):
            raise
        state.limiter.check(name, ip)
    try:
        user = await service.check_password(state.opensearch, cfg.users_index, name, body.password)
    except Unauthenticated:
        state.limiter.failed(name, ip)
        await record(
            state.opensearch,
            cfg.audit_index,
            actor=name,
            action=f"auth.{what}",
            target_type="user",
            target_id=name,
            outcome="failure",
            client_ip=ip,
        )
        raise
    state.limiter.succeeded(name, ip)
    return user


@router.post("/login", response_model=Me)
async def login(body: LoginRequest, request: Request, response: Response, state: State) -> dict[str, Any]:
    """Log in with a password: sets the session cookie (HttpOnly) and the CSRF cookie.

    Send the returned `csrf_token` as the `X-CSRF-Token` header on every POST/PUT/PATCH/DELETE.
    """
    user = await _login(request, state, body, "login")
    cfg = state.settings.opensearch
    ttl = state.settings.api.session_ttl_secs
    secret, cred = await service.issue(
        state.opensearch, cfg.sessions_index, kind="session", username=user["username"], ttl_secs=ttl
    )
    secure = _secure(request, state)
    response.set_cookie(SESSION_COOKIE, secret, max_age=ttl, httponly=True, samesite="strict", secure=secure, path="/")
    response.set_cookie(
        CSRF_COOKIE, cred.csrf or "", max_age=ttl, httponly=False, samesite="strict", secure=secure, path="/"
    )
    await audit(
        request,
        actor=user["username"],
        action="auth.login",
        target_type="user",
        target_id=user["username"],
    )
    await service.purge_expired(state.opensearch, cfg.sessions_index)
    return {
        "username": user["username"],
        "role": user["role"],
        "agency": user.get("agency"),
        "permissions": sorted(ROLE_PERMISSIONS[user["role"]]),
        "csrf_token": cred.csrf,
        "expires_at": cred.expires_at,
    }


@router.post("/token", response_model=TokenResponse)
async def token(body: TokenRequest, request: Request, state: State) -> dict[str, Any]:
    """Exchange a user name and password for a bearer token (for scripts). Shown once."""
    user = await _login(request, state, body, "token")
    cfg = state.settings.opensearch
    days = min(body.ttl_days, state.settings.api.token_max_ttl_days)
    secret, cred = await service.issue(
        state.opensearch,
        cfg.sessions_index,
        kind="token",
        username=user["username"],
        ttl_secs=int(timedelta(days=days).total_seconds()),
        name=body.name,
    )
    await audit(
        request,
        actor=user["username"],
        action="auth.token_issued",
        target_type="token",
        target_id=cred.id[:12],
        details={"name": body.name, "days": days},
    )
    return {"token": secret, "name": body.name, "expires_at": cred.expires_at}


@router.post("/unlock", response_model=Unlocked)
async def unlock(body: Unlock, principal: Admin, request: Request, state: State) -> dict[str, Any]:
    """Lift login waits (admins): of an account at every address, of an address, or of one account
    at one address. Recorded, so every API replica honours it, and audited."""
    account = body.username.strip().lower() if body.username else None
    address = str(body.address) if body.address else None
    removed = state.limiter.unlock(account=account, address=address)
    cfg = state.settings.opensearch
    await record_unlock(state.opensearch, unlocks_index(cfg), account=account, address=address, by=principal.username)
    await audit(
        request,
        actor=principal,
        action="auth.unlock",
        target_type="user" if account else "address",
        target_id=account or address,
        details={"address": address, "removed_here": removed},
    )
    return {"username": account, "address": address, "removed": removed}


@router.post("/logout", status_code=204)
async def logout(principal: Authenticated, request: Request, state: State) -> Response:
    """End this session (or revoke this bearer token)."""
    cfg = state.settings.opensearch
    await service.revoke(state.opensearch, cfg.sessions_index, principal.credential_id, state.cache)
    await audit(
        request,
        actor=principal,
        action="auth.logout",
        target_type="user",
        target_id=principal.username,
    )
    response = Response(status_code=204)
    secure = _secure(request, state)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=secure)
    response.delete_cookie(CSRF_COOKIE, path="/", samesite="strict", secure=secure)
    return response


@router.get("/me", response_model=Me)
async def me(principal: Authenticated) -> dict[str, Any]:
    """Who is logged in, with what permissions (and the session's CSRF token)."""
    return {
        "username": principal.username,
        "role": principal.role,
        "agency": principal.agency,
        "permissions": sorted(ROLE_PERMISSIONS[principal.role]),
        "csrf_token": principal.csrf_token,
        "expires_at": None,
    }
