"""Login limiting through the API (issue 10, finding 7): an outsider cannot lock the SOC out, and an
admin can lift a wait through the API or the command line (recorded, so every replica honours it)."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.api.conftest import PASSWORD, Api

pytestmark = pytest.mark.integration
ATTACKER, SOC = "203.0.113.9", "10.0.0.5"


def from_address(api: Api, address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api.app, client=(address, 40000)), base_url=api.base_url, timeout=30
    )


async def login(client: httpx.AsyncClient, username: str, password: str) -> int:
    resp = await client.post("/api/v1/auth/login", json={"username": username, "password": password})
    return resp.status_code


async def test_failed_logins_from_an_outsider_do_not_lock_the_admin_out(api: Api) -> None:
    async with from_address(api, ATTACKER) as attacker:
        codes = [await login(attacker, "admin", f"guess {i}") for i in range(8)]
        assert codes[:3] == [401, 401, 401] and set(codes[3:]) == {429}  # login_max_failures = 3 here
        assert await login(attacker, "admin", PASSWORD) == 429  # even the right password waits there
    async with from_address(api, SOC) as soc:
        assert await login(soc, "admin", PASSWORD) == 200


async def test_admin_unlock_route_lifts_a_wait(api: Api) -> None:
    async with from_address(api, SOC) as soc:
        for i in range(3):
            await login(soc, "viewer", f"typo {i}")
        assert await login(soc, "viewer", PASSWORD) == 429
        async with api.client("admin") as admin:
            resp = await admin.post("/api/v1/auth/unlock", json={"username": "VIEWER"})
            assert resp.status_code == 200 and resp.json()["removed"] == 1
            assert (await admin.post("/api/v1/auth/unlock", json={})).status_code == 422
        assert await login(soc, "viewer", PASSWORD) == 200


async def test_unlock_from_the_command_line_is_honoured_by_the_running_api(api: Api) -> None:
    from canhgac.cmd_users import unlock_logins

    async with from_address(api, ATTACKER) as client:
        for i in range(3):
            await login(client, "analyst", f"typo {i}")
        assert await login(client, "analyst", PASSWORD) == 429
        await unlock_logins(api.settings, username="analyst", address=None)  # another process's write
        assert await login(client, "analyst", PASSWORD) == 200
        for i in range(3):  # what fails after the unlock counts again
            await login(client, "analyst", f"again {i}")
        assert await login(client, "analyst", PASSWORD) == 429
