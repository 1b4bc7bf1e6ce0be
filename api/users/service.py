from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from canhgac.api.auth.models import AGENCY_ROLES
from canhgac.api.auth.passwords import check_password_policy, hash_password
from canhgac.api.users.models import USERNAME_PATTERN, UserCreate, UserUpdate, normalise_username
from canhgac.core.errors import Conflict, InvalidRequest, NotFound
from canhgac.core.index import Index
from opensearchpy import AsyncOpenSearch

PUBLIC_FIELDS = (
    "username",
    "role",
    "agency",
    "display_name",
    "disabled",
    "created_at",
    "updated_at",
    "created_by",
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def public(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: doc.get(k) for k in PUBLIC_FIELDS}


async def get_user(client: AsyncOpenSearch, index: str, username: str) -> dict[str, Any] | None:
    """The stored user with its hash, or None. Names are matched lower-cased."""
    name = normalise_username(username)
    if not re.match(USERNAME_PATTERN, name):
        return None
    return await Index(client, index).find(name)


async def list_users(client: AsyncOpenSearch, index: str) -> list[dict[str, Any]]:
    body = {"size": 1000, "sort": [{"username": "asc"}], "query": {"match_all": {}}}
    result = await Index(client, index).search(body)
    return [public(h["_source"]) for h in result["hits"]["hits"]]


async def create_user(client: AsyncOpenSearch, index: str, user: UserCreate, *, by: str) -> dict[str, Any]:
    check_password_policy(user.password, (user.username, user.display_name))
    now = _now()
    doc = {
        "username": user.username,
        "role": user.role,
        "agency": user.agency,
        "display_name": user.display_name,
        "password_hash": hash_password(user.password),
        "disabled": False,
        "created_at": now,
        "updated_at": now,
        "created_by": by,
    }
    await Index(client, index).put(
        user.username, doc, create=True, exists=f"user {user.username} already exists", refresh="wait_for"
    )
    return public(doc)


async def update_user(
    client: AsyncOpenSearch, index: str, username: str, change: UserUpdate
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply the change; returns (the user now, what changed without secrets)."""
    current = await get_user(client, index, username)
    if current is None:
        raise NotFound(f"user {username} not found")
    fields = change.model_dump(exclude_unset=True)
    updates: dict[str, Any] = {}
    for key in ("role", "agency", "display_name", "disabled"):
        if key in fields:
            updates[key] = fields[key]
    role = updates.get("role", current.get("role"))
    agency = updates.get("agency", current.get("agency"))
    if role in AGENCY_ROLES and not agency:
        raise InvalidRequest(f"an {role} needs an agency")
    if fields.get("password") is not None:
        check_password_policy(
            fields["password"], (current["username"], updates.get("display_name", current.get("display_name")))
        )
        updates["password_hash"] = hash_password(fields["password"])
    if not updates:
        return public(current), {}
    updates["updated_at"] = _now()
    await Index(client, index).update(
        current["username"], updates, missing=f"user {username} not found", refresh="wait_for"
    )
    shown = {k: v for k, v in updates.items() if k not in ("password_hash", "updated_at")}
    if "password_hash" in updates:
        shown["password"] = "changed"
    return public(current | updates), shown


async def ensure_demo_admin(client: AsyncOpenSearch, index: str, password: str | None) -> str | None:
    """For `canhgac run --demo`: create `admin` if missing. Returns the password when it was created
    with a generated one (to print once), else None."""
    import secrets

    from canhgac.api.users.models import UserCreate

    if await get_user(client, index, "admin") is not None:
        return None
    generated = password is None
    password = password or secrets.token_urlsafe(12)
    try:
        await create_user(client, index, UserCreate(username="admin", role="admin", password=password), by="demo")
    except Conflict:
        return None
    return password if generated else None
