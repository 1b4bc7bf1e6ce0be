"""The durable outbox: every notification is stored before it is sent.

States: pending -> sending -> sent | retrying | failed(reason); retrying -> sending again;
pending/retrying escalations -> cancelled when the alert is acknowledged.

A crash between "the channel took it" and "marked sent" leaves the row in `sending`. Once its
lease (`sending_lease_secs`) runs out, it is claimed again and sent again with the *same*
idempotency key: webhooks get it in the Idempotency-Key header, e-mail as the Message-ID, so a
receiver can drop the repeat. Telegram, Slack and Teams have no such key: in that window (the
milliseconds between their HTTP answer and our commit) a crash can show a message twice. We prefer
that to losing a page. A row that was marked `sent` is never sent again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from canhgac.core.ids import derived_id
from canhgac.pipeline.notify.db import Database
from canhgac.pipeline.notify.message import Message

STATUSES = ("pending", "sending", "sent", "retrying", "failed", "cancelled")


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


@dataclass(frozen=True)
class NotificationRecord:
    id: str  # also the idempotency key
    purpose: str
    kind: str
    route: str | None
    channel: str
    message: Message
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    created_at: float
    updated_at: float
    sent_at: float | None

    @property
    def idempotency_key(self) -> str:
        return self.id

    def to_dict(self) -> dict[str, Any]:
        """The API's view: no message body beyond the subject."""
        return {
            "id": self.id,
            "kind": self.kind,
            "route": self.route,
            "channel": self.channel,
            "subject": self.message.subject,
            "alert_ids": list(self.message.alert_ids),
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": _iso(self.next_attempt_at) if self.status in ("pending", "retrying") else None,
            "last_error": self.last_error,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "sent_at": _iso(self.sent_at),
        }


def _record(row: Any) -> NotificationRecord:
    return NotificationRecord(
        id=row["id"],
        purpose=row["purpose"],
        kind=row["kind"],
        route=row["route"],
        channel=row["channel"],
        message=Message.model_validate_json(row["message"]),
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        sent_at=row["sent_at"],
    )


class Outbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    def open(cls, path: str | Path) -> Outbox:
        return cls(Database(path))

    def close(self) -> None:
        self.db.close()

    def enqueue(
        self, *, purpose: str, kind: str, channel: str, message: Message, route: str | None, now: float
    ) -> bool:
        """False when a notification with the same purpose exists: handling an alert twice (a
        Kafka redelivery, a restart) does not send it twice."""
        key = derived_id("notify", purpose)
        with self.db.transaction() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO notifications (id, purpose, kind, route, channel, message, status,"
                " next_attempt_at, created_at, updated_at) VALUES (?,?,?,?,?,?,'pending',?,?,?)",
                (key, purpose, kind, route, channel, message.model_dump_json(), now, now, now),
            )
            if cur.rowcount == 0:
                return False
            conn.executemany(
                "INSERT OR IGNORE INTO notification_alerts (notification_id, alert_id) VALUES (?,?)",
                [(key, alert_id) for alert_id in message.alert_ids],
            )
        return True

    def claim_due(
        self, now: float, *, lease_secs: float, limit: int = 100, ids: Iterable[str] | None = None
    ) -> list[NotificationRecord]:
        """Move due rows to `sending` under a lease; a row whose lease ran out was interrupted."""
        due = (
            "(status IN ('pending','retrying') AND next_attempt_at <= :now)"
            " OR (status = 'sending' AND lease_until <= :now)"
        )
        params: dict[str, Any] = {"now": now, "lease": now + lease_secs, "limit": limit}
        with self.db.transaction() as conn:
            if ids is not None:
                wanted = list(ids)
                marks = ",".join(f":id{i}" for i in range(len(wanted)))
                params.update({f"id{i}": v for i, v in enumerate(wanted)})
                sql = f"SELECT id FROM notifications WHERE id IN ({marks}) AND ({due})"
            else:
                sql = f"SELECT id FROM notifications WHERE {due} ORDER BY created_at, id LIMIT :limit"
            chosen = [r["id"] for r in conn.execute(sql, params)]
            for key in chosen:
                conn.execute(
                    "UPDATE notifications SET status='sending', lease_until=:lease, attempts=attempts+1,"
                    " updated_at=:now WHERE id=:id",
                    {**params, "id": key},
                )
            rows = [conn.execute("SELECT * FROM notifications WHERE id=?", (k,)).fetchone() for k in chosen]
        return [_record(r) for r in rows]

    def mark_sent(self, key: str, now: float) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE notifications SET status='sent', sent_at=?, updated_at=?, lease_until=NULL,"
                " last_error=NULL WHERE id=?",
                (now, now, key),
            )

    def mark_retrying(self, key: str, now: float, *, error: str, next_attempt_at: float) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE notifications SET status='retrying', last_error=?, next_attempt_at=?, updated_at=?,"
                " lease_until=NULL WHERE id=?",
                (error, next_attempt_at, now, key),
            )

    def mark_failed(self, key: str, now: float, *, reason: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE notifications SET status='failed', last_error=?, updated_at=?, lease_until=NULL WHERE id=?",
                (reason, now, key),
            )

    def cancel_escalations(self, alert_ids: Iterable[str], now: float) -> int:
        ids = list(alert_ids)
        if not ids:
            return 0
        marks = ",".join("?" * len(ids))
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE notifications SET status='cancelled', last_error='acknowledged', updated_at=?"
                " WHERE kind='escalation' AND status IN ('pending','retrying') AND id IN"
                f" (SELECT notification_id FROM notification_alerts WHERE alert_id IN ({marks}))",
                (now, *ids),
            )
        return cur.rowcount

    def get(self, key: str) -> NotificationRecord | None:
        row = self.db.conn.execute("SELECT * FROM notifications WHERE id=?", (key,)).fetchone()
        return _record(row) if row else None

    def list(
        self,
        *,
        alert_id: str | None = None,
        status: str | None = None,
        agency: str | None = None,
        limit: int = 100,
    ) -> list[NotificationRecord]:
        """Newest first. With `agency`, only notifications about that agency's alerts: every alert
        a notification is about must be the agency's (a grouped message naming another agency's
        alert, a digest or a test send is about no single agency and stays the SOC's)."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown status {status!r} (known: {', '.join(STATUSES)})")
        sql = "SELECT n.* FROM notifications n"
        where: list[str] = []
        params: list[Any] = []
        if alert_id is not None:
            sql += " JOIN notification_alerts a ON a.notification_id = n.id"
            where.append("a.alert_id = ?")
            params.append(alert_id)
        if status is not None:
            where.append("n.status = ?")
            params.append(status)
        if agency is not None:
            where.append("EXISTS (SELECT 1 FROM notification_alerts x WHERE x.notification_id = n.id)")
            where.append(
                "NOT EXISTS (SELECT 1 FROM notification_alerts x LEFT JOIN alerts al ON al.id = x.alert_id"
                " WHERE x.notification_id = n.id AND (al.agency IS NULL OR al.agency != ?))"
            )
            params.append(agency)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY n.created_at DESC, n.id DESC LIMIT ?"
        return [_record(r) for r in self.db.conn.execute(sql, (*params, limit))]

    def counts(self) -> dict[str, int]:
        rows = self.db.conn.execute("SELECT status, COUNT(*) AS n FROM notifications GROUP BY status")
        return {r["status"]: r["n"] for r in rows}

    def prune(self, before: float) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "DELETE FROM notification_alerts WHERE notification_id IN (SELECT id FROM notifications"
                " WHERE status IN ('sent','failed','cancelled') AND updated_at < ?)",
                (before,),
            )
            conn.execute(
                "DELETE FROM notifications WHERE status IN ('sent','failed','cancelled') AND updated_at < ?",
                (before,),
            )
