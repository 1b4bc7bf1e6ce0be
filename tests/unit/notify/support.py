"""Shared pieces for notifier tests (unit and integration): an alert factory, a controllable clock,
a recording channel, and a service harness over a real SQLite outbox."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from canhgac.pipeline.notify import ManualClock, NotifierService, NotifyConfig, Outbox
from canhgac.pipeline.notify.message import Message
from canhgac.pipeline.notify.notifiers import Delivery

# Thursday 26 Nov 2026, 14:00 in Hà Nội (UTC+7).
START = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
ACK_SECRET = "test-ack-secret-0123456789abcdef"

BASE_ALERT: dict[str, Any] = {
    "id": "a-ssh-1",
    "@timestamp": "2026-11-26T07:00:00.000Z",
    "rule": {
        "id": "ssh-brute-force",
        "title": "SSH brute force",
        "level": "high",
        "author": "Canhgac SOC",
        "tags": ["attack.credential_access", "attack.t1110"],
        "references": ["https://attack.mitre.org/techniques/T1110/"],
        "description": "Nhiều lần đăng nhập SSH thất bại từ một địa chỉ.",
    },
    "severity": "high",
    "first_seen": "2026-11-26T06:58:00.000Z",
    "last_seen": "2026-11-26T07:00:00.000Z",
    "count": 12,
    "event_ids": ["e1", "e2"],
    "event": {"event": {"category": ["authentication"], "outcome": "failure"}},
    "agency": "so-tttt",
    "canhgac": {"source_id": "syslog-so-tttt"},
    "host": {"name": "mc-web-01"},
    "user": {"name": "root"},
    "source": {"ip": "203.0.113.7"},
    "status": "new",
}


def make_alert(alert_id: str = "a-ssh-1", **changes: Any) -> dict[str, Any]:
    """`rule_id=`, `tags=`, `host=`, `source_id=` reach into nested fields; other keys replace."""
    alert = copy.deepcopy(BASE_ALERT)
    alert["id"] = alert_id
    if "rule_id" in changes:
        alert["rule"]["id"] = changes.pop("rule_id")
    if "tags" in changes:
        alert["rule"]["tags"] = changes.pop("tags")
    if "host" in changes:
        alert["host"]["name"] = changes.pop("host")
    if "source_id" in changes:
        alert["canhgac"]["source_id"] = changes.pop("source_id")
    alert.update(changes)
    return alert


class FakeNotifier:
    """Records every attempt; `outcomes` lists what each attempt does (None = accept, or an error)."""

    def __init__(self, name: str, ledger: list[tuple[str, str]] | None = None) -> None:
        self.name = name
        self.config = SimpleNamespace(type="fake")
        self.attempts: list[tuple[Message, Delivery]] = []
        self.sent: list[tuple[Message, Delivery]] = []
        self.outcomes: list[BaseException | None] = []
        self.ledger = ledger if ledger is not None else []

    async def send(self, message: Message, delivery: Delivery) -> None:
        self.attempts.append((message, delivery))
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        self.sent.append((message, delivery))
        self.ledger.append((self.name, delivery.idempotency_key))

    async def aclose(self) -> None:
        pass

    @property
    def subjects(self) -> list[str]:
        return [m.subject for m, _ in self.sent]


CHANNELS = ("email-soc", "tg-an", "tg-binh", "tg-lead", "hook-siem", "email-digest")


def config_dict(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "channels": {name: {"type": "webhook", "url": "http://127.0.0.1:9/"} for name in CHANNELS},
        "agency_names": {"so-tttt": "Sở TT&TT"},
        "routes": [{"name": "catch-all", "channels": ["email-soc"]}],
        "ack_url_template": "https://soc.example.vn/api/v1/notify/ack?token={token}",
        "ack_secret_env": "CANHGAC_TEST_ACK_SECRET",
        "retry": {"max_attempts": 3, "backoff_initial_secs": 10, "backoff_max_secs": 60},
    }
    base.update(changes)
    return base


class Harness:
    """A service over a real SQLite outbox in tmp_path, fake channels and a manual clock."""

    def __init__(self, tmp_path: Path, config: NotifyConfig) -> None:
        self.tmp_path = tmp_path
        self.config = config
        self.clock = ManualClock(START)
        self.ledger: list[tuple[str, str]] = []
        self.channels = {name: FakeNotifier(name, self.ledger) for name in config.channels}
        self.internal: list[dict[str, Any]] = []
        self.service = self.new_service()

    def new_service(self) -> NotifierService:
        async def sink(alert: dict[str, Any]) -> None:
            self.internal.append(alert)

        return NotifierService(
            self.config,
            Outbox.open(self.tmp_path / "outbox.sqlite3"),
            self.clock,
            notifiers=self.channels,
            environ={"CANHGAC_TEST_ACK_SECRET": ACK_SECRET},
            on_internal_alert=sink,
        )

    async def restart(self) -> NotifierService:
        await self.service.close()
        self.service = self.new_service()
        return self.service


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(**changes: Any) -> Harness:
        h = Harness(tmp_path, NotifyConfig.model_validate(config_dict(**changes)))
        made.append(h)
        return h

    yield make
    for h in made:
        h.service.outbox.close()
