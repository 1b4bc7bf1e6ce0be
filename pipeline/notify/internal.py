"""Alerts the notifier raises about itself, through the alert contract (canhgac.core.alert)."""

from __future__ import annotations

import socket
from datetime import datetime
from typing import Any

from canhgac.core.alert import AlertRule, Severity, alert_id, build_alert, iso

CHANNEL_FAILING_RULE_ID = "canhgac-notifier-channel-failing"
NOTIFIER_SOURCE_ID = "canhgac-notifier"


def channel_failing_alert(
    *,
    channel: str,
    channel_type: str,
    failures: int,
    last_error: str,
    failing_since: datetime,
    now: datetime,
    agency: str,
) -> dict[str, Any]:
    """One alert per failure streak: the id is stable for the streak, so re-raising is a no-op."""
    event = {
        "@timestamp": iso(now),
        "event": {
            "kind": "alert",
            "module": "canhgac.notify",
            "dataset": "canhgac.notify",
            "outcome": "failure",
            "reason": last_error,
        },
        "message": f"notification channel {channel} ({channel_type}) failed {failures} times in a row",
    }
    group = {"notify.channel": channel}
    alert = build_alert(
        alert_id=alert_id(CHANNEL_FAILING_RULE_ID, agency, group, iso(failing_since)),
        rule=AlertRule(
            id=CHANNEL_FAILING_RULE_ID,
            title=f"Kênh thông báo {channel} gửi lỗi liên tục",
            level=Severity.HIGH,
            author="Canhgac",
            tags=[],
            references=[],
            description=(
                f"Kênh {channel} ({channel_type}) đã gửi lỗi {failures} lần liên tiếp; "
                f"lỗi gần nhất: {last_error}. Người trực có thể không nhận được cảnh báo qua kênh này."
            ),
        ),
        agency=agency,
        created_by="notifier",
        first_seen=failing_since,
        last_seen=now,
        count=failures,
        snapshot=event,
        group=group,
        host=socket.gethostname(),
        source_id=NOTIFIER_SOURCE_ID,
        notify={"channel": channel, "channel_type": channel_type, "last_error": last_error},
        now=now,
    )
    return alert.to_document()
