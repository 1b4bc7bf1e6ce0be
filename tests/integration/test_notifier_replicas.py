"""Two notifier replicas (two real `canhgac run --instance notifier-N` processes) on the secured
Kafka, against a real webhook receiver and a real SMTP server: one replica is the elected owner and
sends, the other stands by. The owner is killed (SIGKILL) while three escalations are pending and a
throttled summary is held; the standby is elected, restores the owner's state from the state topic,
and sends the held summary and the escalations, plus the notifications of an alert that arrived
after the kill. Every notification reaches its receiver exactly once (in this run; the guarantee
is at-least-once with the same idempotency key: docs/notifications.md, "Replicas")."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import re
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from aiokafka import TopicPartition
from aiosmtpd.controller import Controller
from canhgac.core.alert import AlertRule, Severity, build_alert
from canhgac.core.config import Settings
from canhgac.core.kafka import ensure_topics, make_producer, make_reader
from canhgac.pipeline.notify.db import restore_file

from tests.conftest import REPO, eventually, free_port
from tests.integration.notify.support import LocalHttpServer

pytestmark = pytest.mark.integration

PAGE_RULE, NOISY_RULE = "replica-page-rule", "replica-noisy-rule"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        self.messages.append(email.message_from_bytes(content, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 OK"


def alert(alert_id: str, rule_id: str) -> bytes:
    now = datetime.now(UTC)
    doc = build_alert(
        alert_id=alert_id,
        rule=AlertRule(
            id=rule_id,
            title=f"Replica test {alert_id}",
            level=Severity.HIGH,
            author="test",
            tags=[],
            references=[],
            description="",
        ),
        agency="so-tttt",
        created_by="detector",
        first_seen=now,
        last_seen=now,
        count=1,
        group={"source.ip": "203.0.113.7"},
        now=now,
    ).to_document()
    return orjson.dumps(doc)


async def start_replica(config: Path, number: int, log_path: Path) -> asyncio.subprocess.Process:
    log = open(log_path, "ab")
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "canhgac",
        "--config",
        str(config),
        "run",
        "--instance",
        f"notifier-{number}",
        stdout=log,
        stderr=log,
        cwd=str(REPO),
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def role(log_path: Path) -> str:
    """owner | standby | none, from the replica's newest election line."""
    state = "none"
    for line in log_path.read_text(errors="replace").splitlines():
        if "notifier: owner; state restored" in line:
            state = "owner"
        elif "notifier: standby" in line or "notifier: stepped down" in line:
            state = "standby" if "standby" in line else "none"
    return state


async def newest_state(settings: Settings, folder: Path) -> sqlite3.Connection | None:
    """The owner's newest snapshot from the state topic, opened as a database."""
    reader = make_reader(settings.kafka, component="notifier", client_suffix="replica-test")
    await reader.start()
    try:
        tp = TopicPartition(settings.kafka.topics.notifier_state, 0)
        reader.assign([tp])
        end = (await reader.end_offsets([tp]))[tp]
        if end == 0:
            return None
        reader.seek(tp, end - 1)
        while True:
            fetched = await reader.getmany(tp, timeout_ms=500)
            found = [r for r in fetched.get(tp, []) if r.offset == end - 1]
            if found:
                break
    finally:
        await reader.stop()
    path = folder / f"snapshot-{end}.sqlite3"
    restore_file(path, found[0].value or b"")
    return sqlite3.connect(str(path))


def counts(db: sqlite3.Connection) -> tuple[dict[str, int], int]:
    """Outbox rows by status and unreleased held alerts."""
    by_status = dict(db.execute("SELECT status, COUNT(*) FROM notifications GROUP BY status").fetchall())
    held = db.execute("SELECT COUNT(*) FROM held WHERE released_at IS NULL").fetchone()[0]
    return by_status, int(held)


async def test_notifier_owner_killed_hands_over_escalations_and_held_summary_sending_each_once(
    test_settings: Settings, tmp_path: Path
) -> None:
    hook = await LocalHttpServer().start()
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    notify = {
        "channels": {
            "hook": {"type": "webhook", "url": f"{hook.url}/hook"},
            "mail": {
                "type": "email",
                "host": "127.0.0.1",
                "port": smtp.port,
                "security": "none",
                "from_addr": "canhgac@soc.example.vn",
                "to": ["lead@soc.example.vn"],
                "timeout_secs": 5,
            },
        },
        "routes": [
            {
                "name": "page",
                "match": {"rule_ids": [PAGE_RULE]},
                "channels": ["hook"],
                "escalation": [{"after_mins": 0.4, "channels": ["mail"]}],
            },
            {
                "name": "noisy",
                "match": {"rule_ids": [NOISY_RULE]},
                "channels": ["hook"],
                "throttle": {"max_messages": 1, "per_secs": 24},
            },
            {"name": "rest"},
        ],
    }
    settings = test_settings
    await ensure_topics(settings.kafka)
    configs, logs = [], []
    for name in ("a", "b"):
        data = settings.model_dump(mode="json")
        data["notify"] = notify
        data["data_dir"] = str(tmp_path / f"var-{name}")
        config = tmp_path / f"canhgac-{name}.yml"
        config.write_text(yaml.safe_dump(data))
        configs.append(config)
        logs.append(tmp_path / f"notifier-{name}.log")
    procs = [await start_replica(config, i, log) for i, (config, log) in enumerate(zip(configs, logs, strict=True))]
    producer = make_producer(settings.kafka, component="detector", client_suffix="replica-test")
    await producer.start()

    async def send(alert_id: str, rule_id: str) -> None:
        await producer.send_and_wait(settings.kafka.topics.alerts, alert(alert_id, rule_id), key=alert_id.encode())

    def alive() -> None:
        for proc, log in zip(procs, logs, strict=False):
            if proc.returncode is None:
                continue
            raise AssertionError(f"{log.name} exited: {log.read_text(errors='replace')[-3000:]}")

    try:

        async def one_owner_one_standby() -> bool:
            alive()
            return sorted(role(log) for log in logs) == ["owner", "standby"]

        await eventually(one_owner_one_standby, timeout_secs=120)
        for i in range(3):
            await send(f"page-{i}", PAGE_RULE)
        for i in range(4):
            await send(f"noisy-{i}", NOISY_RULE)

        # The owner sent four messages (three pages, the first noisy alert), held three noisy ones
        # for a summary, and its newest snapshot says so.
        async def settled() -> bool:
            alive()
            db = await newest_state(settings, tmp_path)
            if db is None:
                return False
            try:
                return counts(db) == ({"sent": 4}, 3) and len(hook.requests) == 4
            finally:
                db.close()

        await eventually(settled, timeout_secs=60)
        owner = next(i for i, log in enumerate(logs) if role(log) == "owner")
        survivor = 1 - owner
        assert inbox.messages == [], "escalations were due before the kill: the machine is too slow for this test"
        procs[owner].kill()
        await procs[owner].wait()
        procs.pop(owner)
        logs_alive = [logs[survivor]]
        await send("page-3", PAGE_RULE)  # arrives while the killed owner still holds its partitions

        # The survivor takes over: the summary of the three held alerts, page-3 and its escalation,
        # and the three escalations the killed owner had pending. Everything in its outbox is sent.
        async def handed_over() -> bool:
            assert procs[0].returncode is None, logs_alive[0].read_text(errors="replace")[-3000:]
            db = await newest_state(settings, tmp_path)
            if db is None:
                return False
            try:
                return counts(db) == ({"sent": 10}, 0)
            finally:
                db.close()

        await eventually(handed_over, timeout_secs=180)
        keys = [r.headers["idempotency-key"] for r in hook.requests]
        assert len(keys) == 6 and len(set(keys)) == 6, keys
        bodies = [orjson.loads(r.body) for r in hook.requests]
        alert_sets = sorted(sorted(b["alert_ids"]) for b in bodies)
        assert alert_sets == [
            ["noisy-0"],
            ["noisy-1", "noisy-2", "noisy-3"],  # the held summary, sent once, by the survivor
            ["page-0"],
            ["page-1"],
            ["page-2"],
            ["page-3"],
        ]
        message_ids = [m["Message-ID"] for m in inbox.messages]
        assert len(message_ids) == 4 and len(set(message_ids)) == 4, message_ids
        final = await newest_state(settings, tmp_path)
        assert final is not None
        escalations = dict(final.execute("SELECT id, purpose FROM notifications WHERE kind='escalation'").fetchall())
        final.close()
        assert sorted(p.split(":")[1] for p in escalations.values()) == ["page-0", "page-1", "page-2", "page-3"]
        assert sorted(m.strip("<>").split("@")[0] for m in message_ids) == sorted(escalations)
        survivor_log = logs[survivor].read_text(errors="replace")
        restored = re.findall(r"notifier: owner; state restored from the state topic \((\d+) bytes\)", survivor_log)
        assert restored, "the survivor did not restore the owner's state from the state topic"
    finally:
        await producer.stop()
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 60)
                except TimeoutError:
                    proc.kill()
        smtp.stop()
        await hook.stop()
