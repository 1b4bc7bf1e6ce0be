"""What every console test needs: the API (with the console) served on the test's settings, and a
fresh headless chromium (Debian's, never a downloaded one) with a page, logged in or not."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import uvicorn

from tests.conftest import REPO
from tests.integration.api.conftest import PASSWORD

CHROMIUM = os.environ.get("CANHGAC_CHROMIUM", "/usr/bin/chromium")
SHOTS = REPO / "artifacts" / "screenshots"
# The console's answers wait on OpenSearch; on a loaded 2-core CI machine a search can take
# longer than Playwright's 5 s default, and the table still shows the previous rows meanwhile.
EXPECT_TIMEOUT_MS = 20_000
ARGS = [
    "--no-sandbox",  # chromium refuses to run as root otherwise
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Server(uvicorn.Server):
    """uvicorn inside the test's event loop: pytest, not uvicorn, owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def]
        yield


@contextlib.asynccontextmanager
async def serve_api(settings: Any) -> AsyncIterator[str]:
    """The API and console on `settings.api.port` until the block ends; yields the base URL."""
    from canhgac.api.app import create_app

    server = Server(
        uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=settings.api.port,
            log_level="warning",
            timeout_graceful_shutdown=1,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{settings.api.port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


@contextlib.asynccontextmanager
async def browser_page(
    base: str,
    user: str | None = "lan",
    *,
    width: int = 1360,
    height: int = 860,
    timezone_id: str | None = None,
    lang: str | None = "vi",
) -> AsyncIterator[Any]:
    """A fresh chromium profile, logged in as `user` (in `lang`), on the queue; `user=None`: on no
    page yet; `lang=None`: the language the console picks itself (and keeps when it is switched)."""
    from playwright.async_api import async_playwright, expect

    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists(), f"chromium not found at {CHROMIUM}"
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    profile = tempfile.mkdtemp(prefix="canhgac-chromium-")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            viewport={"width": width, "height": height},
            locale="vi-VN",
            timezone_id=timezone_id,
        )
        try:
            page = browser.pages[0] if browser.pages else await browser.new_page()
            page.set_default_timeout(EXPECT_TIMEOUT_MS)
            if lang is not None:
                await page.add_init_script(f"localStorage.setItem('canhgac.lang', '{lang}')")
            if user:
                await page.goto(base + "/")
                await page.fill("#login-user", user)
                await page.fill("#login-pass", PASSWORD)
                await page.click("button[type=submit]")
                await expect(page.locator("h1")).to_have_text("Hàng đợi cảnh báo" if lang != "en" else "Alert queue")
            yield page
        finally:
            await browser.close()
            shutil.rmtree(profile, ignore_errors=True)
