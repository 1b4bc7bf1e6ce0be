"""Telegram, webhook, Slack and Teams against a local HTTP server: exact payloads, signature,
retry on 5xx and timeouts, a recorded reason on 4xx."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from canhgac.pipeline.notify import ManualClock

from tests.integration.notify.support import LocalHttpServer, Reply, open_service, service_config
from tests.unit.notify.support import START, make_alert
from tests.unit.notify.test_payloads import GOLDEN

TOKEN = "123456:TEST-token"


def golden(name: str) -> object:
    return json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))


def telegram(server: LocalHttpServer, **extra: object) -> dict[str, object]:
    return {
        "tg-oncall": {
            "type": "telegram",
            "base_url": server.url,
            "token_env": "TG_TOKEN",
            "chat_id": "-1001234567890",
            "timeout_secs": 0.3,
            **extra,
        }
    }


async def test_telegram_sends_the_golden_payload(http_server: LocalHttpServer, tmp_path: Path) -> None:
    service = open_service(tmp_path, service_config(telegram(http_server)), environ={"TG_TOKEN": TOKEN})
    await service.handle_alert(make_alert())
    assert (await service.run_due()).sent == 1
    [request] = http_server.requests
    assert (request.method, request.path) == ("POST", f"/bot{TOKEN}/sendMessage")
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.body) == golden("tg-oncall.alert")
    await service.close()


async def test_webhook_payload_signature_and_idempotency_key(http_server: LocalHttpServer, tmp_path: Path) -> None:
    channels = {
        "hook-siem": {
            "type": "webhook",
            "url": http_server.url + "/hook",
            "secret_env": "HOOK_SECRET",
            "headers": {"X-Team": "soc"},
            "header_envs": {"Authorization": "SIEM_AUTH"},
        }
    }
    service = open_service(
        tmp_path,
        service_config(channels),
        environ={"HOOK_SECRET": "hook-secret", "SIEM_AUTH": "Bearer s3cr3t"},
    )
    await service.handle_alert(make_alert())
    await service.run_due()
    [request] = http_server.requests
    [record] = service.list_notifications(alert_id="a-ssh-1")
    assert record.status == "sent"
    assert request.headers["idempotency-key"] == record.id
    assert request.headers["authorization"] == "Bearer s3cr3t"
    assert request.headers["x-team"] == "soc"
    timestamp = request.headers["x-canhgac-timestamp"]
    assert timestamp == str(int(START.timestamp()))
    expected = hmac.new(b"hook-secret", timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-canhgac-signature"] == f"sha256={expected}"
    body = json.loads(request.body)
    assert body["idempotency_key"] == record.id
    body["idempotency_key"] = golden("hook-siem.alert")["idempotency_key"]  # type: ignore[index]
    assert body == golden("hook-siem.alert")
    await service.close()


async def test_retries_on_500_and_timeout_then_succeeds(http_server: LocalHttpServer, tmp_path: Path) -> None:
    clock = ManualClock(START)
    service = open_service(tmp_path, service_config(telegram(http_server)), clock, environ={"TG_TOKEN": TOKEN})
    http_server.script = [Reply(500, b'{"ok":false}'), Reply(200, delay_secs=1.0)]
    await service.handle_alert(make_alert())
    await service.run_due()
    [record] = service.list_notifications()
    assert (record.status, record.last_error) == ("retrying", 'HTTP 500: {"ok":false}')
    clock.advance(seconds=10)
    await service.run_due()
    [record] = service.list_notifications()
    assert record.status == "retrying" and record.last_error.startswith("timeout after 0.3s")  # type: ignore[union-attr]
    assert record.next_attempt_at == clock.now().timestamp() + 20
    clock.advance(seconds=20)
    await service.run_due()
    [record] = service.list_notifications()
    assert (record.status, record.attempts) == ("sent", 3)
    assert len(http_server.requests) == 3
    assert len({r.body for r in http_server.requests}) == 1  # the same message every time
    await service.close()


async def test_gives_up_on_4xx_with_the_reason(http_server: LocalHttpServer, tmp_path: Path) -> None:
    clock = ManualClock(START)
    service = open_service(tmp_path, service_config(telegram(http_server)), clock, environ={"TG_TOKEN": TOKEN})
    http_server.script = [Reply(400, b'{"ok":false,"description":"Bad Request: chat not found"}')]
    await service.handle_alert(make_alert())
    await service.run_due()
    clock.advance(hours=1)
    await service.run_due()
    [record] = service.list_notifications(status="failed")
    assert record.last_error == 'permanent: HTTP 400: {"ok":false,"description":"Bad Request: chat not found"}'
    assert len(http_server.requests) == 1
    await service.close()


async def test_429_waits_for_retry_after_and_errors_hide_the_token(
    http_server: LocalHttpServer, tmp_path: Path
) -> None:
    service = open_service(tmp_path, service_config(telegram(http_server)), environ={"TG_TOKEN": TOKEN})
    http_server.script = [Reply(429, b'{"ok":false,"description":"Too Many Requests"}', {"Retry-After": "37"})]
    await service.handle_alert(make_alert())
    await service.run_due()
    [record] = service.list_notifications(status="retrying")
    assert record.next_attempt_at == START.timestamp() + 37
    await service.close()

    refused = telegram(http_server)
    refused["tg-oncall"]["base_url"] = "http://127.0.0.1:9"  # type: ignore[index]
    other = open_service(tmp_path / "b", service_config(refused), environ={"TG_TOKEN": TOKEN})
    record = await other.send_test("tg-oncall")
    assert record.status == "failed" and "cannot connect" in record.last_error  # type: ignore[operator]
    assert TOKEN not in record.last_error  # type: ignore[operator]
    await other.close()


async def test_slack_and_teams_post_their_payloads(http_server: LocalHttpServer, tmp_path: Path) -> None:
    channels = {
        "slack-soc": {"type": "slack", "url_env": "SLACK_URL", "channel": "#soc-alerts"},
        "teams-adaptive": {"type": "teams", "url_env": "TEAMS_URL"},
        "teams-messagecard": {"type": "teams", "url_env": "TEAMS_URL", "card": "messagecard"},
    }
    service = open_service(
        tmp_path,
        service_config(channels),
        environ={"SLACK_URL": http_server.url + "/hooks/slack", "TEAMS_URL": http_server.url + "/teams"},
    )
    await service.handle_alert(make_alert())
    assert (await service.run_due()).sent == 3
    by_kind = {}
    for request in http_server.requests:
        body = json.loads(request.body)
        by_kind[
            "slack-soc"
            if request.path == "/hooks/slack"
            else "teams-messagecard"
            if "@type" in body
            else "teams-adaptive"
        ] = body
    for name, body in by_kind.items():
        assert body == golden(f"{name}.alert"), name
    assert len(by_kind) == 3
    await service.close()


async def test_cli_send_test_prints_the_record_and_exit_code(http_server: LocalHttpServer, tmp_path: Path) -> None:
    import io

    from canhgac.pipeline.notify.cli import run_send_test

    config = service_config({"hook": {"type": "webhook", "url": http_server.url + "/hook"}})
    out = io.StringIO()
    assert (
        await run_send_test(config, data_dir=tmp_path, channel="hook", out=out, environ={"ACK_SECRET": "x" * 32}) == 0
    )
    printed = json.loads(out.getvalue())
    assert (printed["status"], printed["kind"], printed["channel"]) == ("sent", "test", "hook")
    assert json.loads(http_server.requests[0].body)["subject"] == "[Canhgac] Thử kênh thông báo hook"
    assert (tmp_path / "notify" / "outbox.sqlite3").exists()

    http_server.script = [Reply(404, b"no such hook")]
    out = io.StringIO()
    assert (
        await run_send_test(config, data_dir=tmp_path, channel="hook", out=out, environ={"ACK_SECRET": "x" * 32}) == 1
    )
    assert json.loads(out.getvalue())["last_error"] == "permanent: HTTP 404: no such hook"
    out = io.StringIO()
    assert (
        await run_send_test(config, data_dir=tmp_path, channel="nope", out=out, environ={"ACK_SECRET": "x" * 32}) == 2
    )
    assert "unknown channel 'nope' (known: hook)" in out.getvalue()
