from __future__ import annotations

from typing import Annotated, Any

from canhgac.api.audit.service import audit
from canhgac.api.auth import service as auth_service
from canhgac.api.deps import Admin, State
from canhgac.api.users import service
from canhgac.api.users.models import User, UserCreate, UserList, UserUpdate, normalise_username
from canhgac.core.errors import InvalidRequest
from fastapi import APIRouter, Path, Request

router = APIRouter(prefix="/api/v1/users", tags=["users"])


@router.get("", response_model=UserList)
async def list_users(principal: Admin, state: State) -> dict[str, Any]:
    return {"items": await service.list_users(state.opensearch, state.settings.opensearch.users_index)}


@router.post("", response_model=User, status_code=201)
async def create_user(body: UserCreate, principal: Admin, request: Request, state: State) -> dict[str, Any]:
    cfg = state.settings.opensearch
    user = await service.create_user(state.opensearch, cfg.users_index, body, by=principal.username)
    await audit(
        request,
        actor=principal,
        action="user.create",
        target_type="user",
        target_id=body.username,
        details={"role": body.role, "agency": body.agency},
    )
    return user


@router.patch("/{username}", response_model=User)
async def update_user(
    username: Annotated[str, Path(min_length=1, max_length=64)],
    body: UserUpdate,
    principal: Admin,
    request: Request,
    state: State,
) -> dict[str, Any]:
    """Change role, agency, display name, password, or disable. Disabling or a new password ends
    the user's sessions and tokens."""
    cfg = state.settings.opensearch
    username = normalise_username(username)
    if username == normalise_username(principal.username) and (body.disabled or (body.role and body.role != "admin")):
        raise InvalidRequest("you cannot disable yourself or drop your own admin role")
    user, changed = await service.update_user(state.opensearch, cfg.users_index, username, body)
    state.cache.drop(f"user:{user['username']}")
    if changed.get("disabled") or "password" in changed:
        await auth_service.revoke_all_of(state.opensearch, cfg.sessions_index, user["username"], state.cache)
    await audit(
        request,
        actor=principal,
        action="user.update",
        target_type="user",
        target_id=user["username"],
        details=changed,
    )
    return user
