"""The console's main pages, in Vietnamese at 1280×800, each opened in a real browser on a little
seeded data: it renders its heading with no error and no script exception. The screenshots are what
docs/console.md shows: with CANHGAC_DOCS_SCREENSHOTS=1 they are written to docs/img/console-*.png
(run it, look, commit the PNGs); otherwise to the test's temporary folder, so CI leaves the tree
clean."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO
from tests.e2e import test_console_bugs as bugs
from tests.integration.api.conftest import PASSWORD

pytestmark = pytest.mark.e2e

console = bugs.console
DOCS_IMG = REPO / "docs" / "img"
WIDTH, HEIGHT = 1280, 800


def out_dir(tmp_path: Path) -> Path:
    return DOCS_IMG if os.environ.get("CANHGAC_DOCS_SCREENSHOTS") == "1" else tmp_path


async def seed_alerts(client, settings) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    more = [
        ("alert-c", "critical", "db01", "Mimikatz trên máy chủ CSDL", "so-tttt", 3),
        ("alert-d", "medium", "mail01", "Đăng nhập từ quốc gia lạ", "so-tttt", 12),
        ("alert-e", "low", "hospital02", "Quét cổng từ mạng nội bộ", "so-yte", 40),
        ("alert-f", "high", "web01", "Tải lên webshell qua Cổng Dịch vụ công", "so-tttt", 25),
    ]
    for i, (alert_id, sev, host, title, agency, minutes) in enumerate(more):
        rule = {
            "id": f"rule-{i + 2}",
            "title": title,
            "level": sev,
            "author": "Canhgac SOC",
            "tags": [],
            "references": [],
        }
        await bugs.put_alert(
            client,
            settings,
            alert_id,
            now - timedelta(minutes=minutes),
            severity=sev,
            host={"name": host},
            agency=agency,
            rule=rule,
        )

    # Two alerts of a loaded rule, one closed as a false positive: the rule page has hits to draw.
    bundled = {"id": bugs.BUNDLED_RULE, "title": "SSH password authentication failed", "level": "low", "tags": []}
    for alert_id, status, days in (("alert-g", "closed", 2), ("alert-h", "acknowledged", 1)):
        await bugs.put_alert(
            client,
            settings,
            alert_id,
            now - timedelta(days=days),
            severity="low",
            rule=bundled,
            status=status,
            resolution="false_positive" if status == "closed" else None,
        )


async def open_case(base: str) -> str:
    """A case on three alerts with a comment, a task and a pinned event, through the API as `lan`."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        me = (await http.post("/api/v1/auth/login", json={"username": "lan", "password": PASSWORD})).json()
        http.headers["X-CSRF-Token"] = me["csrf_token"]
        resp = await http.post(
            "/api/v1/cases",
            json={
                "alert_ids": ["alert-f", "alert-a", "alert-c"],
                "title": "Tấn công vào Cổng Dịch vụ công",
                "assignee": "lan",
            },
        )
        assert resp.status_code == 201, resp.text
        case_id: str = resp.json()["id"]
        steps = [
            ("/status", {"status": "investigating"}),
            ("/comments", {"text": "Tệp webshell được tải lên qua biểu mẫu góp ý; đã gỡ và khoá biểu mẫu."}),
            ("/comments", {"text": "Đã chặn IP 203.0.113.66 trên tường lửa biên."}),
            ("/tasks", {"title": "Đổi mật khẩu tài khoản root trên web01"}),
            ("/events", {"event_id": "ev-a-1", "note": "Lần đăng nhập thất bại đầu tiên"}),
            ("/attachments", {"query": 'message:"password"', "title": "Đăng nhập SSH trên web01", "rows": 10}),
        ]
        for path, body in steps:
            resp = await http.post(f"/api/v1/cases/{case_id}{path}", json=body)
            assert resp.status_code == 200, resp.text
        resp = await http.patch(f"/api/v1/cases/{case_id}", json={"system_id": "cong-dvc"})
        assert resp.status_code == 200, resp.text
        return case_id


async def test_main_pages_render_in_vietnamese_and_are_photographed(console, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from playwright.async_api import expect

    base, client, settings = console
    await seed_alerts(client, settings)
    system = {"id": "cong-dvc", "name": "Cổng Dịch vụ công tỉnh", "agency": "so-tttt", "security_level": 4}
    systems = f"{settings.opensearch.config_index_prefix}-systems"
    await client.index(index=systems, id=system["id"], body=system, refresh="wait_for")
    case_id = await open_case(base)
    pages = {
        "queue": "#/alerts",
        "alert": "#/alerts/alert-f",
        "dashboard": "#/dashboard",
        "search": "#/search",
        "entity": "#/entity/host/web01",
        "cases": "#/cases",
        "case": f"#/cases/{case_id}",
        "rules": "#/rules",
        "rule": f"#/rules/{bugs.BUNDLED_RULE}",
    }
    folder = out_dir(tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    async with bugs.browser_page(base, "lan", width=WIDTH, height=HEIGHT) as page:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        for name, route in pages.items():
            await page.goto(f"{base}/{route}")
            heading = page.locator("main h1").first
            await expect(heading).to_be_visible()
            await expect(page.locator("main .loading")).to_have_count(0)
            await expect(page.locator("main .page-error")).to_have_count(0)
            await page.evaluate(bugs.SETTLE_JS)  # charts and late panels drawn before the picture
            await page.screenshot(path=str(folder / f"console-{name}.png"))
            assert (await heading.text_content() or "").strip(), name
        assert not errors, errors
    assert {f"console-{n}.png" for n in pages} <= {p.name for p in folder.glob("console-*.png")}
