"""Header values built from data (a rule's title, an alert id) can never break a message: CR/LF
and other control characters are folded to spaces before they reach a header (issue 10, finding 8)."""

from __future__ import annotations

import email
import email.policy

import httpx
from canhgac.core.notify_config import NotifyConfig
from canhgac.pipeline.notify.notifiers import Delivery, build_notifiers
from canhgac.pipeline.notify.render import render_alert

from tests.unit.notify.support import START, make_alert
from tests.unit.notify.test_payloads import golden_context

DELIVERY = Delivery(idempotency_key="0f1e2d3c4b5a69788796a5b4c3d2e1f0", attempt=1, at=START)


def mail_notifier():  # type: ignore[no-untyped-def]
    config = NotifyConfig.model_validate(
        {
            "channels": {
                "mail": {
                    "type": "email",
                    "host": "127.0.0.1",
                    "security": "none",
                    "from_addr": "canhgac@soc.example.vn",
                    "to": ["oncall@so-tttt.example.vn"],
                }
            }
        }
    )
    return build_notifiers(config.channels, environ={}, http=httpx.AsyncClient())["mail"]


def test_email_for_rule_title_with_crlf_builds_one_line_subject() -> None:
    alert = make_alert("a-crlf\r\nBcc: x@evil.example", rule={**make_alert()["rule"], "title": "SSH\r\nBcc: all@evil"})
    message = render_alert(alert, golden_context())
    raw = mail_notifier().build_request(message, DELIVERY).as_bytes()  # raised ValueError before
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Bcc"] is None
    assert parsed["Subject"].startswith("[Canhgac][CAO] SSH Bcc: all@evil")
    assert "\n" not in parsed["Subject"] and "\r" not in parsed["Subject"]
    assert parsed["X-Canhgac-Alert-Id"] == "a-crlf Bcc: x@evil.example"


def test_email_for_message_stored_with_control_characters_still_builds() -> None:
    # Messages are rendered once and stored in the outbox: one written before the fix must send too.
    message = render_alert(make_alert(), golden_context()).model_copy(update={"subject": "a\rb\nc\x00d\te"})
    raw = mail_notifier().build_request(message, DELIVERY).as_bytes()
    assert email.message_from_bytes(raw, policy=email.policy.default)["Subject"] == "a b c d e"
