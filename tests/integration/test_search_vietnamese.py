"""Search finds Vietnamese text with or without diacritics ("đăng nhập" <-> "dang nhap"), and
keyword fields are case-insensitive through their `.ci` sub-field."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from canhgac.api.users.models import UserCreate

from canhgac.cmd_users import create_user
from canhgac.demo_feed import send_lines
from canhgac.runtime import Runtime
from tests.conftest import eventually

pytestmark = pytest.mark.integration


async def test_search_with_and_without_diacritics(test_settings) -> None:
    runtime = Runtime(test_settings, stages=("normalizer", "indexer"))
    task = asyncio.create_task(runtime.run())
    await asyncio.wait_for(runtime.started.wait(), 120)
    try:
        assert runtime.collector is not None and runtime.collector.port
        await send_lines(
            "127.0.0.1",
            runtime.collector.port,
            [
                "<14>Nov 26 09:00:00 motcua-app01 motcua[12]: Người dùng nguyenvana đăng nhập thất bại",
                "<14>Nov 26 09:00:01 motcua-app01 motcua[12]: Nguoi dung tranthib dang nhap thanh cong",
                "<14>Nov 26 09:00:02 motcua-app01 motcua[12]: Hồ sơ HS-2026-0042 đã được phê duyệt",
            ],
        )
        base = f"http://127.0.0.1:{test_settings.api.port}"
        await create_user(
            test_settings, UserCreate(username="tim-kiem", role="viewer", password="mat-khau-thu-nghiem-2026")
        )
        async with httpx.AsyncClient(base_url=base, timeout=30) as anonymous:
            login = await anonymous.post(
                "/api/v1/auth/token", json={"username": "tim-kiem", "password": "mat-khau-thu-nghiem-2026"}
            )
            token = login.json()["token"]
        async with httpx.AsyncClient(base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"}) as api:

            async def search(query: str) -> list[str]:
                page = (await api.post("/api/v1/events/search", json={"query": query})).json()
                return sorted(e["message"] for e in page["items"])

            async def indexed() -> bool:
                return len(await search("*")) == 3

            await eventually(indexed, timeout_secs=60)
            both = await search('"dang nhap"')
            assert len(both) == 2
            assert both == await search('"đăng nhập"')
            assert await search("duyệt") == await search("duyet") == ["Hồ sơ HS-2026-0042 đã được phê duyệt"]
            assert len(await search("host.hostname.ci:MOTCUA-APP01")) == 3
            assert await search("host.hostname:MOTCUA-APP01") == []  # the exact field stays exact
            bad = await api.post("/api/v1/events/search", json={"query": "message:(unbalanced"})
            assert bad.status_code == 400 and "query refused" in bad.json()["detail"]
            leading = await api.post("/api/v1/events/search", json={"query": "*thất"})
            assert leading.status_code == 400
    finally:
        runtime.request_stop()
        await asyncio.wait_for(task, 60)
