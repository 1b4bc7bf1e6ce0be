"""Alerts the notifier raises about itself, in the shape of the alerts topic (canhgac.alerts.v1)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

from canhgac.core.ids import derived_id

CHANNEL_FAILING_RULE_ID = "canhgac-notifier-channel-failing"


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
        "@timestamp": _iso(now),
        "event": {
            "kind": "alert",
            "module": "canhgac.notify",
            "dataset": "canhgac.notify",
            "outcome": "failure",
            "reason": last_error,
        },
        "message": f"notification channel {channel} ({channel_type}) failed {failures} times in a row",
    }
    return {
        "id": derived_id(CHANNEL_FAILING_RULE_ID, channel, _iso(failing_since)),
        "@timestamp": _iso(now),
        "rule": {
            "id": CHANNEL_FAILING_RULE_ID,
            "title": f"Kênh thông báo {channel} gửi lỗi liên tục",
            "level": "high",
            "author": "Canhgac",
            "tags": [],
            "references": [],
            "description": (
                f"Kênh {channel} ({channel_type}) đã gửi lỗi {failures} lần liên tiếp; "
                f"lỗi gần nhất: {last_error}. Người trực có thể không nhận được cảnh báo qua kênh này."
            ),
        },
        "severity": "high",
        "first_seen": _iso(failing_since),
        "last_seen": _iso(now),
        "count": failures,
        "event_ids": [],
        "event": event,
        "agency": agency,
        "canhgac": {"source_id": "canhgac-notifier"},
        "host": {"name": socket.gethostname()},
        "status": "new",
        "notify": {"channel": channel, "channel_type": channel_type, "last_error": last_error},
    }
