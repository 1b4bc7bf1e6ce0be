"""User accounts through the API (issue 10, finding 8): a password policy with a strength estimate,
validation errors that never carry a password, and user names that are one name whatever their case."""

from __future__ import annotations

import pytest

from tests.integration.api.conftest import Api

pytestmark = pytest.mark.integration
STRONG = "mua thu Ha Noi lanh 2026"


async def test_weak_password_is_refused_with_a_reason_on_create_and_change(api: Api) -> None:
    async with api.client("admin") as admin:
        for weak in ("aaaaaaaaaa", "Password123!", "nguyen.lan.2026"):
            resp = await admin.post(
                "/api/v1/users", json={"username": "nguyen.lan", "role": "viewer", "password": weak}
            )
            assert resp.status_code == 400, (weak, resp.text)
            assert "password is too easy to guess" in resp.json()["detail"] and weak not in resp.text
        created = await admin.post(
            "/api/v1/users", json={"username": "nguyen.lan", "role": "viewer", "password": STRONG}
        )
        assert created.status_code == 201, created.text
        change = await admin.patch("/api/v1/users/nguyen.lan", json={"password": "aaaaaaaaaaaa"})
        assert change.status_code == 400 and "too easy to guess" in change.json()["detail"]
    async with api.client() as anonymous:
        login = await anonymous.post("/api/v1/auth/login", json={"username": "nguyen.lan", "password": STRONG})
        assert login.status_code == 200  # the refused change left the password as it was


async def test_login_user_create_and_password_change_422s_never_contain_the_password(api: Api) -> None:
    secret = "Zq7-secret-" + "x" * 1100  # over max_length: a 422
    async with api.client("admin") as admin:
        replies = [
            await admin.post("/api/v1/auth/login", json={"username": "admin", "password": secret}),
            await admin.post("/api/v1/auth/token", json={"username": "admin", "password": secret, "ttl_days": 0}),
            await admin.post("/api/v1/users", json={"username": "x y", "role": "viewer", "password": secret}),
            await admin.post("/api/v1/users", json={"username": "ok", "role": "nobody", "password": "Zq7-short"}),
            await admin.patch("/api/v1/users/viewer", json={"password": secret}),
            await admin.patch("/api/v1/users/viewer", json={"password": "Zq7-short", "role": "nobody"}),
        ]
    for resp in replies:
        assert resp.status_code == 422, resp.text
        assert "Zq7" not in resp.text and "secret" not in resp.text


async def test_admin_cannot_drop_their_own_role_by_upper_casing_their_name(api: Api) -> None:
    async with api.client("admin") as admin:
        for name in ("ADMIN", "Admin", " admin"):
            resp = await admin.patch(f"/api/v1/users/{name}", json={"role": "viewer"})
            assert resp.status_code == 400, (name, resp.text)
            disable = await admin.patch(f"/api/v1/users/{name}", json={"disabled": True})
            assert disable.status_code == 400, (name, disable.text)
        me = await admin.get("/api/v1/auth/me")
        assert me.status_code == 200 and me.json()["role"] == "admin"


async def test_user_names_are_one_name_whatever_their_case(api: Api) -> None:
    async with api.client("admin") as admin:
        created = await admin.post(
            "/api/v1/users", json={"username": "Tran.Minh", "role": "viewer", "password": STRONG}
        )
        assert created.status_code == 201 and created.json()["username"] == "tran.minh"
        again = await admin.post("/api/v1/users", json={"username": "TRAN.MINH", "role": "viewer", "password": STRONG})
        assert again.status_code == 409
        renamed = await admin.patch("/api/v1/users/TRAN.Minh", json={"display_name": "Trần Minh"})
        assert renamed.status_code == 200 and renamed.json()["username"] == "tran.minh"
    async with api.client() as anonymous:
        login = await anonymous.post("/api/v1/auth/login", json={"username": "Tran.MINH", "password": STRONG})
        assert login.status_code == 200 and login.json()["username"] == "tran.minh"
