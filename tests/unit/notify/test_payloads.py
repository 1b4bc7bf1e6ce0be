"""The exact payload each channel sends, against golden files (CANHGAC_UPDATE_GOLDEN=1 rewrites)."""

from __future__ import annotations

import email
import email.policy
import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from canhgac.core.notify_config import NotifyConfig
from canhgac.pipeline.notify.ack import AckSigner
from canhgac.pipeline.notify.clock import ManualClock
from canhgac.pipeline.notify.message import Message
from canhgac.pipeline.notify.notifiers import Delivery, Notifier, build_notifiers
from canhgac.pipeline.notify.notifiers.webhook import sign
from canhgac.pipeline.notify.render import RenderContext, render_alert, render_group

from tests.unit.notify.support import ACK_SECRET, START, make_alert

GOLDEN = Path(__file__).parent / "golden"
ENV = {
    "TG_TOKEN": "123456:TEST-token",
    "HOOK_SECRET": "hook-secret",
    "SIEM_AUTH": "Bearer s3cr3t",
    "SLACK_URL": "http://127.0.0.1:9/hooks/slack",
    "TEAMS_URL": "http://127.0.0.1:9/teams",
}
CHANNELS: dict[str, Any] = {
    "tg-oncall": {"type": "telegram", "token_env": "TG_TOKEN", "chat_id": "-1001234567890"},
    "hook-siem": {
        "type": "webhook",
        "url": "http://127.0.0.1:9/hook",
        "secret_env": "HOOK_SECRET",
        "headers": {"X-Team": "soc"},
        "header_envs": {"Authorization": "SIEM_AUTH"},
    },
    "slack-soc": {"type": "slack", "url_env": "SLACK_URL", "channel": "#soc-alerts"},
    "teams-adaptive": {"type": "teams", "url_env": "TEAMS_URL"},
    "teams-messagecard": {"type": "teams", "url_env": "TEAMS_URL", "card": "messagecard"},
}
DELIVERY = Delivery(idempotency_key="0f1e2d3c4b5a69788796a5b4c3d2e1f0", attempt=1, at=START)


def golden_context() -> RenderContext:
    signer = AckSigner(ACK_SECRET.encode(), ManualClock(START))
    return RenderContext(
        zone=ZoneInfo("Asia/Ho_Chi_Minh"),
        agency_names={"so-tttt": "Sở TT&TT"},
        console_url="https://soc.example.vn/console",
        ack_url_for=lambda a: (
            "https://soc.example.vn/api/v1/notify/ack?token=" + signer.make_ack_token(a, START + timedelta(hours=72))
        ),
    )


def golden_alert_message() -> Message:
    return render_alert(make_alert(), golden_context())


def golden_notifiers(http: httpx.AsyncClient | None = None) -> dict[str, Notifier]:
    config = NotifyConfig.model_validate({"channels": CHANNELS})
    return build_notifiers(config.channels, environ=ENV, http=http or httpx.AsyncClient())


def check_golden(name: str, payload: Any) -> None:
    path = GOLDEN / f"{name}.json"
    text = json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    if os.environ.get("CANHGAC_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == payload, f"{path} differs"


def test_subject_and_facts_in_vietnamese() -> None:
    message = golden_alert_message()
    assert message.subject == "[Canhgac][CAO] SSH brute force — Sở TT&TT"
    facts = {f.label: f.value for f in message.facts}
    assert facts["Lần đầu"] == "26/11/2026 13:58:00"  # local time, UTC+7
    assert facts["Tác giả quy tắc"] == "Canhgac SOC"
    assert message.ack_url is not None and message.ack_url.startswith("https://soc.example.vn/api/v1/notify/ack?token=")


@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_alert_payload_matches_golden(channel: str) -> None:
    notifier = golden_notifiers()[channel]
    check_golden(f"{channel}.alert", notifier.build_request(golden_alert_message(), DELIVERY))


def test_group_payload_matches_golden() -> None:
    alerts = [make_alert(f"a-ssh-{i}", host="mc-web-01", count=i) for i in (1, 2, 3)]
    message = render_group(alerts, golden_context())
    assert message.subject == "[Canhgac][CAO] SSH brute force (×3) — Sở TT&TT"
    check_golden("tg-oncall.group", golden_notifiers()["tg-oncall"].build_request(message, DELIVERY))


def test_webhook_headers_carry_key_timestamp_and_verifiable_signature() -> None:
    notifier = golden_notifiers()["hook-siem"]
    body = b'{"x":1}'
    headers = notifier.headers(body, DELIVERY)  # type: ignore[attr-defined]
    assert headers["Idempotency-Key"] == DELIVERY.idempotency_key
    assert headers["X-Canhgac-Timestamp"] == str(int(START.timestamp()))
    assert headers["Authorization"] == "Bearer s3cr3t"
    assert headers["X-Team"] == "soc"
    assert headers["X-Canhgac-Signature"] == sign(b"hook-secret", headers["X-Canhgac-Timestamp"], body)
    assert headers["X-Canhgac-Signature"] != sign(b"hook-secret", headers["X-Canhgac-Timestamp"], b'{"x":2}')


def test_telegram_text_is_escaped_html_and_bounded() -> None:
    notifier = golden_notifiers()["tg-oncall"]
    alert = make_alert(host="<script>&")
    text = notifier.build_request(render_alert(alert, golden_context()), DELIVERY)["text"]
    assert "&lt;script&gt;&amp;" in text and "<script>" not in text
    many = [make_alert(f"a-{i}", host="h" * 200) for i in range(60)]
    long_text = notifier.build_request(render_group(many, golden_context()), DELIVERY)["text"]
    assert len(long_text) <= 4096 and long_text.endswith("Xác nhận</a>")


def test_email_message_headers_and_parts() -> None:
    config = NotifyConfig.model_validate(
        {
            "channels": {
                "mail": {
                    "type": "email",
                    "host": "127.0.0.1",
                    "security": "none",
                    "from_addr": "canhgac@soc.example.vn",
                    "from_name": "Canhgac SOC Tỉnh",
                    "to": ["oncall@so-tttt.example.vn", "lead@soc.example.vn"],
                }
            }
        }
    )
    notifier = build_notifiers(config.channels, environ={}, http=httpx.AsyncClient())["mail"]
    raw = notifier.build_request(golden_alert_message(), DELIVERY).as_bytes()
    assert b"=?utf-8?" in raw.split(b"\n\n", 1)[0]  # RFC 2047-encoded header, 7-bit on the wire
    assert max(raw.split(b"\n\n", 1)[0]) < 128
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "[Canhgac][CAO] SSH brute force — Sở TT&TT"
    assert parsed["From"] == "Canhgac SOC Tỉnh <canhgac@soc.example.vn>"
    assert parsed["To"] == "oncall@so-tttt.example.vn, lead@soc.example.vn"
    assert parsed["Message-ID"] == f"<{DELIVERY.idempotency_key}@canhgac.local>"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    plain = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Máy: mc-web-01" in plain and "Xác nhận đã nhận cảnh báo: https://soc.example.vn/" in plain
    html = parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<td>mc-web-01</td>" in html
