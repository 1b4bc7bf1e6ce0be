"""Issue 10 findings 3 and 4 through the API on the real OpenSearch: a YAML alias bomb is refused with
a reason wherever YAML is accepted (upload, validate, test, and backtest, which agency viewers may
run); request bodies are bounded on every route (413 before the body is read through, 408 when it
trickles); a 422 never hands back what was sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.api.conftest import PASSWORD, iso

pytestmark = pytest.mark.integration


def billion_laughs_rule() -> str:
    lines = ['    l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        lines.append(f"    l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    bomb = "\n".join(lines)
    return (
        "title: Laughs\nid: 0b6a1f0e-2a57-4c55-9d7e-5b0f64e0c001\nlogsource: {product: linux}\n"
        f"x-bomb:\n{bomb}\ndetection:\n  sel:\n    message|contains: *l9\n  condition: sel\n"
    )


def assert_refused(resp) -> None:  # type: ignore[no-untyped-def]
    assert resp.status_code == 400, resp.text[:500]
    body = resp.json()
    assert [r["reason"] for r in body["rejected"]] == ["refused YAML"]
    assert "aliases" in body["rejected"][0]["message"]


async def test_yaml_alias_bomb_is_refused_everywhere(api) -> None:  # type: ignore[no-untyped-def]
    text = billion_laughs_rule()
    assert len(text) < 3000
    now = datetime.now(UTC)
    window = {"start": iso(now - timedelta(hours=1)), "end": iso(now)}
    async with api.client("admin") as admin, api.client("agency_viewer") as agency_viewer:
        assert_refused(await agency_viewer.post("/api/v1/rules/backtest", json={"yaml": text, **window}))
        assert_refused(await admin.post("/api/v1/rules", json={"yaml": text}))
        assert_refused(await admin.post("/api/v1/rules/validate", json={"yaml": text}))
        assert_refused(await admin.post("/api/v1/rules/test", json={"yaml": text, "events": [{"message": "lol"}]}))


async def test_login_body_over_the_limit_is_refused_before_it_is_read(api) -> None:  # type: ignore[no-untyped-def]
    limit = api.settings.api.max_auth_body_bytes
    async with api.client() as anonymous:
        # declared too large: refused without reading
        declared = await anonymous.post(
            "/api/v1/auth/login",
            content=b"{" + b" " * (50 * 1024 * 1024) + b"}",
            headers={"content-type": "application/json"},
        )
        assert declared.status_code == 413
        assert "limit" in declared.json()["detail"]

        # no length declared (chunked): the read stops at the limit, the rest is never pulled
        pulled = 0
        chunk = b" " * 65536

        async def body() -> AsyncIterator[bytes]:
            nonlocal pulled
            yield b'{"username": "x", "password": "'
            for _ in range(800):  # 50 MiB if read through
                pulled += len(chunk)
                yield chunk
            yield b'"}'

        streamed = await anonymous.post(
            "/api/v1/auth/login", content=body(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413
        assert pulled <= limit + 2 * len(chunk)


async def test_bodies_are_bounded_on_every_route_class(api) -> None:  # type: ignore[no-untyped-def]
    cfg = api.settings.api
    async with api.client("admin") as admin:
        big = {"query": "x" * (cfg.max_body_bytes + 10)}
        assert (await admin.post("/api/v1/events/search", json=big)).status_code == 413
        # rule texts may be larger than the default limit (up to the rules limit)
        over_rules = {"yaml": "x" * (cfg.max_rule_body_bytes + 10)}
        assert (await admin.post("/api/v1/rules/validate", json=over_rules)).status_code == 413
        under_rules = {"yaml": "title: x\n" + "#" * (cfg.max_body_bytes + 10)}
        assert (await admin.post("/api/v1/rules/validate", json=under_rules)).status_code != 413


async def test_validation_errors_never_echo_the_input(api) -> None:  # type: ignore[no-untyped-def]
    secret = "hunter2-" + "s3cret" * 300  # over the password's max_length: a 422
    async with api.client() as anonymous:
        resp = await anonymous.post("/api/v1/auth/login", json={"username": "admin", "password": secret})
        assert resp.status_code == 422
        assert "hunter2" not in resp.text
        detail = resp.json()["detail"]
        assert detail and all(set(err) <= {"type", "loc", "msg"} for err in detail)
        assert detail[0]["loc"] == ["body", "password"]
        # a body that is not JSON: the decode error says where, not what
        resp = await anonymous.post(
            "/api/v1/auth/login",
            content=b'{"password": "' + PASSWORD.encode() + b'", oops}',
            headers={"content-type": "application/json"},
        )
        assert resp.status_code == 422 and PASSWORD not in resp.text
