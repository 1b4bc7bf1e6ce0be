"""Onboarding and agency notification routes in the console (issue 16, items 5 and 4), in a real
browser (Debian's chromium) on the real API, Kafka and OpenSearch.

Onboarding: an admin declares a source on #/onboarding, copies its key and the NXLog configuration
(the clipboard is read back), the test sends one line exactly as that configuration says (its URL's
path and its Authorization header) through the real HTTP collector, normaliser and indexer, and the
"first event received" check turns green. Routes: an agency analyst adds and removes its agency's
route and is offered, and allowed, only the channels the SOC gave its agency."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from canhgac.core.notify_config import NotifyConfig

from canhgac.runtime import Runtime
from tests.conftest import eventually
from tests.e2e.test_console_bugs import browser_page, console  # noqa: F401 (the fixture)
from tests.integration.api.conftest import PASSWORD, cleanup

pytestmark = pytest.mark.e2e

CHANNELS = {
    "tttt-mail": {"type": "email", "host": "127.0.0.1", "security": "none", "from_addr": "soc@x", "to": ["it@tttt"]},
    "yte-mail": {"type": "email", "host": "127.0.0.1", "security": "none", "from_addr": "soc@x", "to": ["it@yte"]},
}
RECEIVED_TIMEOUT_MS = 90_000
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


@pytest.fixture
def test_settings(test_settings):  # type: ignore[no-untyped-def]
    """The shared settings plus two e-mail channels, one given to each agency."""
    notify = NotifyConfig.model_validate(
        {"channels": CHANNELS, "agency_channels": {"so-tttt": ["tttt-mail"], "so-yte": ["yte-mail"]}}
    )
    return test_settings.model_copy(update={"notify": notify})


async def clipboard(page: Any) -> str:
    text: str = await page.evaluate("() => navigator.clipboard.readText()")
    return text


async def test_declare_a_source_copy_its_config_and_see_its_first_event(test_settings) -> None:  # type: ignore[no-untyped-def]
    from canhgac.api.users.models import UserCreate
    from canhgac.api.users.service import create_user
    from canhgac.core.store import make_client
    from playwright.async_api import expect

    collectors = test_settings.collectors.model_copy(
        update={
            "syslog_tcp": test_settings.collectors.syslog_tcp.model_copy(update={"enabled": False}),
            "http": test_settings.collectors.http.model_copy(
                update={"enabled": True, "port": 0, "api_sources_refresh_secs": 0.5}
            ),
        }
    )
    settings = test_settings.model_copy(update={"collectors": collectors, "sources_refresh_secs": 0.5})
    runtime = Runtime(settings, stages=("normalizer", "indexer"))
    task = asyncio.create_task(runtime.run())
    await asyncio.wait_for(runtime.started.wait(), 120)
    client = make_client(settings.opensearch, component="admin")
    try:
        await create_user(
            client,
            settings.opensearch.users_index,
            UserCreate(username="lan", role="admin", password=PASSWORD),
            by="test",
        )
        (ingest,) = [c for c in runtime.collectors if c.name == "http"]
        base = f"http://127.0.0.1:{settings.api.port}"
        async with browser_page(base, "lan", lang="en") as page:
            await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
            await page.goto(base + "/#/sources")
            await page.click("#sources-onboard")
            form = page.locator("#onb-form")
            await form.locator("input[name=id]").fill("ubnd-app01")
            await form.locator("input[name=agency]").fill("so-tttt")
            # The address its syslog would come from, and loopback, where this test sends from.
            await form.locator("input[name=allowed_addresses]").fill("10.20.30.40, 127.0.0.1")
            await form.locator("button[type=submit]").click()

            # The key, once, with a copy button.
            await expect(page.locator("#onb-key")).to_contain_text("shown ONCE")
            key = (await page.locator("#onb-key-value").text_content() or "").strip()
            assert len(key) >= 43
            await page.click("#onb-copy-key")
            assert await clipboard(page) == key
            await expect(page.locator("#onb-status")).to_have_attribute("data-received", "false")
            await expect(page.locator("#onb-first")).to_have_text("Waiting for the first event…")

            # rsyslog is known by its address; the NXLog configuration carries the key.
            await expect(page.locator("#onb-config-note")).to_contain_text("10.20.30.40/32, 127.0.0.1/32")
            await page.click("button[data-shipper=nxlog]")
            await page.click("#onb-copy-config")
            config = await clipboard(page)
            assert key in config and config == await page.locator("#onb-config").text_content()

            # One line, sent as the copied configuration says, to the test's collector.
            url = re.search(r"^\s*URL\s+(\S+)$", config, re.M)
            header = re.search(r"^\s*AddHeader\s+Authorization: (.+)$", config, re.M)
            assert url and header and url.group(1).endswith("/ingest/v1/ubnd-app01")
            path = "/" + url.group(1).split("/", 3)[3]
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ingest.port}", timeout=30) as sender:

                async def sent() -> bool | None:  # the collector reads API-declared sources every 0.5 s
                    answer = await sender.post(
                        path,
                        json={"Hostname": "app01", "Message": "onboarding test line"},
                        headers={"Authorization": header.group(1)},
                    )
                    answers.append(f"{answer.status_code} {answer.text[:200]}")
                    return True if answer.status_code == 200 else None

                answers: list[str] = []
                try:
                    await eventually(sent, timeout_secs=30, interval_secs=0.3)
                except AssertionError:
                    raise AssertionError(f"the collector never took the line: {answers[-3:]}") from None

            await expect(page.locator("#onb-status")).to_have_attribute(
                "data-received", "true", timeout=RECEIVED_TIMEOUT_MS
            )
            await expect(page.locator("#onb-first")).to_contain_text("First event received at")
            await expect(page.locator("#onb-errors")).to_contain_text("0 / 1 (0.0%)")
            await expect(page.locator("#onb-area")).not_to_contain_text("null")
            if os.environ.get("CANHGAC_DOCS_SCREENSHOTS") == "1":  # docs/agencies.md's picture, on request
                await page.set_viewport_size({"width": 1360, "height": 1250})
                await page.evaluate("() => window.scrollTo(0, 0)")
                await page.screenshot(path=str(DOCS_IMG / "console-onboarding.png"))
    finally:
        await client.close()
        runtime.request_stop()
        await asyncio.wait_for(task, 60)
        await cleanup(settings)


async def test_agency_analyst_adds_and_removes_its_route(console) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from canhgac.api.users.models import UserCreate
    from canhgac.api.users.service import create_user
    from canhgac.core.kafka import ensure_topics
    from playwright.async_api import expect

    base, client, settings = console
    await ensure_topics(settings.kafka)
    await create_user(
        client,
        settings.opensearch.users_index,
        UserCreate(username="phuong", role="agency_analyst", agency="so-tttt", password=PASSWORD),
        by="test",
    )
    async with browser_page(base, "phuong", lang="en") as page:
        await page.click("#nav a[href='#/notify-routes']")
        await expect(page.locator("#route-none")).to_be_visible()
        # Only the channel given to its agency is offered.
        boxes = page.locator("#route-channels input[name=channel]")
        await expect(boxes).to_have_count(1)
        await expect(boxes).to_have_attribute("value", "tttt-mail")
        form = page.locator("#route-form")
        await form.locator("input[name=name]").fill("truc-ca")
        await form.locator("select[name=min_severity]").select_option("high")
        await boxes.check()
        await form.locator("button[type=submit]").click()
        row = page.locator("#route-table tbody tr[data-key='so-tttt/truc-ca']")
        await expect(row).to_contain_text("High")
        await expect(row).to_contain_text("tttt-mail")
        if os.environ.get("CANHGAC_DOCS_SCREENSHOTS") == "1":
            await page.screenshot(path=str(DOCS_IMG / "console-notify-routes.png"))

        # Another agency's channel, asked for through the console's own API client: refused.
        status = await page.evaluate(
            """async () => {
              const { api } = await import("/js/api.js");
              try { await api("/api/v1/notify/routes/so-tttt/truc-ca", { method: "PUT", body: { channels: ["yte-mail"] } }); return 200; }
              catch (e) { return e.status; }
            }"""
        )
        assert status == 400
        await expect(row).to_contain_text("tttt-mail")

        page.on("dialog", lambda dialog: dialog.accept())
        await row.get_by_role("button", name="Delete").click()
        await expect(page.locator("#route-none")).to_be_visible()
