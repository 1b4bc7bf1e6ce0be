"""The notifier's SQLite file (WAL): the outbox and the alert state live in one database so one
transaction records an alert, its routing decision and the notifications it causes."""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS notifications (
    id TEXT PRIMARY KEY,                 -- the idempotency key, derived from `purpose`
    purpose TEXT NOT NULL,               -- readable origin: alert:<alert>:<route>:<channel> ...
    kind TEXT NOT NULL,
    route TEXT,
    channel TEXT NOT NULL,
    message TEXT NOT NULL,               -- rendered Message (JSON), fixed at enqueue time
    status TEXT NOT NULL,                -- pending|sending|sent|retrying|failed|cancelled
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    lease_until REAL,
    last_error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    sent_at REAL
);
CREATE INDEX IF NOT EXISTS notifications_due ON notifications (status, next_attempt_at);
CREATE TABLE IF NOT EXISTS notification_alerts (
    notification_id TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    PRIMARY KEY (alert_id, notification_id)
);
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    snapshot TEXT NOT NULL,
    status TEXT NOT NULL,
    agency TEXT,
    severity TEXT,
    received_at REAL NOT NULL,
    acknowledged_by TEXT,
    acknowledged_at REAL
);
CREATE INDEX IF NOT EXISTS alerts_agency ON alerts (agency, received_at);
CREATE TABLE IF NOT EXISTS alert_versions (
    alert_id TEXT NOT NULL,
    version TEXT NOT NULL,
    PRIMARY KEY (alert_id, version)
);
CREATE TABLE IF NOT EXISTS deliveries (
    alert_id TEXT NOT NULL,
    route TEXT NOT NULL,
    state TEXT NOT NULL,                 -- grouped|held|notified|dropped
    group_id TEXT,
    notified_at REAL,
    level INTEGER NOT NULL DEFAULT 0,
    next_escalation_at REAL,
    PRIMARY KEY (alert_id, route)
);
CREATE INDEX IF NOT EXISTS deliveries_escalation ON deliveries (next_escalation_at);
CREATE INDEX IF NOT EXISTS deliveries_group ON deliveries (group_id);
CREATE TABLE IF NOT EXISTS groups (
    id TEXT PRIMARY KEY,
    route TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    group_key TEXT NOT NULL,
    opened_at REAL NOT NULL,
    closes_at REAL NOT NULL,
    flushed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS held (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    route TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    reason TEXT NOT NULL,                -- quiet|throttled
    held_at REAL NOT NULL,
    released_at REAL
);
CREATE TABLE IF NOT EXISTS route_sends (route TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS route_sends_at ON route_sends (route, at);
CREATE TABLE IF NOT EXISTS channel_health (
    channel TEXT PRIMARY KEY,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    failing_since REAL,
    alert_raised INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS digests (agency TEXT NOT NULL, day TEXT NOT NULL, PRIMARY KEY (agency, day));
"""


class Database:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode; transactions are explicit BEGIN IMMEDIATE so writers never deadlock.
        self.conn = sqlite3.connect(str(path), isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a notification the service said it stored survives a power cut, not only a crash.
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("PRAGMA busy_timeout=5000")
        self.conn.executescript(SCHEMA)
        self._depth = 0

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        if self._depth:
            self._depth += 1
            try:
                yield self.conn
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.conn
        except BaseException:
            self._depth = 0
            self.conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self.conn.execute("COMMIT")

    @property
    def changes(self) -> int:
        """Rows changed since the connection opened: a snapshot is due when this moved."""
        return int(self.conn.total_changes)

    def snapshot(self) -> bytes:
        """The whole database, committed state, zlib-compressed: what the notifier's state topic
        holds so the next owner can take over (docs/notifications.md, Replicas)."""
        return zlib.compress(self.conn.serialize(), 6)

    def journal_mode(self) -> str:
        return str(self.conn.execute("PRAGMA journal_mode").fetchone()[0])

    def close(self) -> None:
        self.conn.close()


def restore_file(path: str | Path, snapshot: bytes) -> None:
    """Replace the database file at `path` (and its WAL) with a `Database.snapshot()`."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    source = sqlite3.connect(":memory:")
    try:
        image = bytearray(zlib.decompress(snapshot))
        if len(image) >= 20:
            image[18:20] = b"\x01\x01"  # the header's WAL flag: an in-memory copy cannot use WAL
        source.deserialize(bytes(image))
        dest = sqlite3.connect(str(target))
        try:
            source.backup(dest)
        finally:
            dest.close()
    finally:
        source.close()
