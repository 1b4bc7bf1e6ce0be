"""What the notifier remembers about alerts: versions seen, routing decisions (deliveries),
open groups, held messages, route send times for throttling, channel health, digests done."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from canhgac.core.alert import Status
from canhgac.pipeline.notify.db import Database


@dataclass(frozen=True)
class DeliveryRow:
    alert_id: str
    route: str
    state: str
    group_id: str | None
    notified_at: float | None
    level: int
    next_escalation_at: float | None


def _delivery(row: Any) -> DeliveryRow:
    return DeliveryRow(
        row["alert_id"],
        row["route"],
        row["state"],
        row["group_id"],
        row["notified_at"],
        row["level"],
        row["next_escalation_at"],
    )


def _marks(n: int) -> str:
    return ",".join("?" * n)


class AlertState:
    def __init__(self, db: Database) -> None:
        self.db = db

    @property
    def _c(self) -> Any:
        return self.db.conn

    # alerts -----------------------------------------------------------------------------------
    def remember_version(self, alert_id: str, version: str) -> bool:
        """True the first time this version of the alert is seen."""
        cur = self._c.execute(
            "INSERT OR IGNORE INTO alert_versions (alert_id, version) VALUES (?,?)", (alert_id, version)
        )
        return bool(cur.rowcount)

    def alert(self, alert_id: str) -> dict[str, Any] | None:
        row = self._c.execute("SELECT * FROM alerts WHERE id=?", (alert_id,)).fetchone()
        if row is None:
            return None
        snapshot: dict[str, Any] = json.loads(row["snapshot"])
        snapshot["status"] = row["status"]
        return snapshot

    def alerts(self, alert_ids: Iterable[str]) -> list[dict[str, Any]]:
        found = [self.alert(a) for a in alert_ids]
        return [a for a in found if a is not None]

    def insert_alert(self, alert: Mapping[str, Any], now: float) -> None:
        self._c.execute(
            "INSERT INTO alerts (id, snapshot, status, agency, severity, received_at) VALUES (?,?,?,?,?,?)",
            (
                alert["id"],
                json.dumps(alert, ensure_ascii=False, default=str),
                str(alert.get("status") or Status.NEW),
                alert.get("agency"),
                alert.get("severity"),
                now,
            ),
        )

    def update_snapshot(self, alert: Mapping[str, Any]) -> None:
        """A later version (count, last_seen) replaces the snapshot; status only moves forward."""
        self._c.execute(
            "UPDATE alerts SET snapshot=?, severity=? WHERE id=?",
            (json.dumps(alert, ensure_ascii=False, default=str), alert.get("severity"), alert["id"]),
        )

    def set_status(self, alert_ids: Iterable[str], status: str, *, by: str | None, now: float) -> list[str]:
        """Alerts that were `new` and are now `status`."""
        ids = list(alert_ids)
        changed = [
            r["id"]
            for r in self._c.execute(
                f"SELECT id FROM alerts WHERE status=? AND id IN ({_marks(len(ids))})", (Status.NEW.value, *ids)
            )
        ]
        if changed:
            self._c.execute(
                f"UPDATE alerts SET status=?, acknowledged_by=?, acknowledged_at=? WHERE id IN "
                f"({_marks(len(changed))})",
                (str(status), by, now, *changed),
            )
        return changed

    def alerts_received(self, agency: str, since: float, until: float) -> list[dict[str, Any]]:
        rows = self._c.execute(
            "SELECT id FROM alerts WHERE agency=? AND received_at>=? AND received_at<? ORDER BY received_at",
            (agency, since, until),
        )
        return self.alerts(r["id"] for r in rows)

    # deliveries (one per alert and route) -------------------------------------------------------
    def add_delivery(self, alert_id: str, route: str, state: str, *, group_id: str | None = None) -> None:
        self._c.execute(
            "INSERT OR IGNORE INTO deliveries (alert_id, route, state, group_id) VALUES (?,?,?,?)",
            (alert_id, route, state, group_id),
        )

    def mark_state(self, alert_id: str, route: str, state: str) -> None:
        self._c.execute("UPDATE deliveries SET state=? WHERE alert_id=? AND route=?", (state, alert_id, route))

    def mark_notified(
        self, alert_ids: Iterable[str], route: str, *, now: float, next_escalation_at: float | None
    ) -> None:
        self._c.executemany(
            "UPDATE deliveries SET state='notified', notified_at=?, next_escalation_at=? WHERE alert_id=? AND route=?",
            [(now, next_escalation_at, a, route) for a in alert_ids],
        )

    def due_escalations(self, now: float) -> list[DeliveryRow]:
        rows = self._c.execute(
            "SELECT d.* FROM deliveries d JOIN alerts a ON a.id = d.alert_id WHERE d.state='notified'"
            " AND d.next_escalation_at IS NOT NULL AND d.next_escalation_at <= ? AND a.status=?"
            " ORDER BY d.notified_at, d.alert_id",
            (now, Status.NEW.value),
        )
        return [_delivery(r) for r in rows]

    def set_escalation(self, alert_id: str, route: str, *, level: int, next_at: float | None) -> None:
        self._c.execute(
            "UPDATE deliveries SET level=?, next_escalation_at=? WHERE alert_id=? AND route=?",
            (level, next_at, alert_id, route),
        )

    def stop_escalation(self, alert_ids: Iterable[str]) -> None:
        ids = list(alert_ids)
        self._c.execute(f"UPDATE deliveries SET next_escalation_at=NULL WHERE alert_id IN ({_marks(len(ids))})", ids)

    def grouped_with(self, alert_id: str) -> list[str]:
        """The alert and every alert that shared a grouped message with it."""
        rows = self._c.execute(
            "SELECT DISTINCT alert_id FROM deliveries WHERE group_id IN (SELECT group_id FROM deliveries"
            " WHERE alert_id=? AND group_id IS NOT NULL)",
            (alert_id,),
        )
        return list(dict.fromkeys([alert_id, *(r["alert_id"] for r in rows)]))

    # groups -----------------------------------------------------------------------------------
    def open_group(
        self, group_id: str, *, route: str, rule_id: str, group_key: str, now: float, closes_at: float
    ) -> str:
        """The group still open for this route, rule and key, or a new one with `group_id`."""
        row = self._c.execute(
            "SELECT id FROM groups WHERE route=? AND rule_id=? AND group_key=? AND flushed=0 AND closes_at>?",
            (route, rule_id, group_key, now),
        ).fetchone()
        if row is not None:
            return str(row["id"])
        self._c.execute(
            "INSERT INTO groups (id, route, rule_id, group_key, opened_at, closes_at) VALUES (?,?,?,?,?,?)",
            (group_id, route, rule_id, group_key, now, closes_at),
        )
        return group_id

    def due_groups(self, now: float) -> list[tuple[str, str]]:
        rows = self._c.execute(
            "SELECT id, route FROM groups WHERE flushed=0 AND closes_at<=? ORDER BY opened_at", (now,)
        )
        return [(r["id"], r["route"]) for r in rows]

    def group_members(self, group_id: str) -> list[str]:
        rows = self._c.execute(
            "SELECT alert_id FROM deliveries WHERE group_id=? AND state='grouped' ORDER BY rowid", (group_id,)
        )
        return [r["alert_id"] for r in rows]

    def mark_group_flushed(self, group_id: str) -> None:
        self._c.execute("UPDATE groups SET flushed=1 WHERE id=?", (group_id,))

    # held messages (quiet hours, throttling) --------------------------------------------------
    def hold(self, route: str, alert_id: str, reason: str, now: float) -> None:
        self._c.execute(
            "INSERT INTO held (route, alert_id, reason, held_at) VALUES (?,?,?,?)",
            (route, alert_id, reason, now),
        )

    def held(self, reason: str) -> dict[str, list[tuple[int, str]]]:
        """Unreleased held alerts by route: [(held row id, alert id)]."""
        out: dict[str, list[tuple[int, str]]] = {}
        for r in self._c.execute(
            "SELECT id, route, alert_id FROM held WHERE reason=? AND released_at IS NULL ORDER BY id",
            (reason,),
        ):
            out.setdefault(r["route"], []).append((r["id"], r["alert_id"]))
        return out

    def release(self, held_ids: Iterable[int], now: float) -> None:
        self._c.executemany("UPDATE held SET released_at=? WHERE id=?", [(now, i) for i in held_ids])

    # throttling -------------------------------------------------------------------------------
    def route_sends_since(self, route: str, since: float) -> int:
        row = self._c.execute("SELECT COUNT(*) AS n FROM route_sends WHERE route=? AND at>?", (route, since))
        return int(row.fetchone()["n"])

    def record_route_send(self, route: str, now: float) -> None:
        self._c.execute("INSERT INTO route_sends (route, at) VALUES (?,?)", (route, now))

    # channel health ---------------------------------------------------------------------------
    def channel_failed(self, channel: str, now: float, threshold: int) -> float | None:
        """When this failure makes the channel "failing" for the first time in a streak, the time
        the streak began (used to name the internal alert); otherwise None."""
        self._c.execute(
            "INSERT INTO channel_health (channel, consecutive_failures, failing_since) VALUES (?,0,?)"
            " ON CONFLICT(channel) DO NOTHING",
            (channel, now),
        )
        self._c.execute(
            "UPDATE channel_health SET consecutive_failures=consecutive_failures+1,"
            " failing_since=COALESCE(failing_since, ?) WHERE channel=?",
            (now, channel),
        )
        row = self._c.execute("SELECT * FROM channel_health WHERE channel=?", (channel,)).fetchone()
        if row["consecutive_failures"] >= threshold and not row["alert_raised"]:
            self._c.execute("UPDATE channel_health SET alert_raised=1 WHERE channel=?", (channel,))
            return float(row["failing_since"])
        return None

    def channel_ok(self, channel: str) -> None:
        self._c.execute(
            "UPDATE channel_health SET consecutive_failures=0, failing_since=NULL, alert_raised=0 WHERE channel=?",
            (channel,),
        )

    def channel_failures(self, channel: str) -> int:
        row = self._c.execute("SELECT consecutive_failures FROM channel_health WHERE channel=?", (channel,)).fetchone()
        return int(row[0]) if row else 0

    # daily digests ----------------------------------------------------------------------------
    def claim_digest(self, agency: str, day: str) -> bool:
        cur = self._c.execute("INSERT OR IGNORE INTO digests (agency, day) VALUES (?,?)", (agency, day))
        return bool(cur.rowcount)

    def prune(self, before: float) -> None:
        self._c.execute("DELETE FROM route_sends WHERE at < ?", (before,))
        self._c.execute("DELETE FROM held WHERE released_at IS NOT NULL AND released_at < ?", (before,))
        self._c.execute("DELETE FROM groups WHERE flushed=1 AND closes_at < ?", (before,))
        old = "SELECT id FROM alerts WHERE received_at < ?"
        self._c.execute(f"DELETE FROM alert_versions WHERE alert_id IN ({old})", (before,))
        self._c.execute(f"DELETE FROM deliveries WHERE alert_id IN ({old})", (before,))
        self._c.execute("DELETE FROM alerts WHERE received_at < ?", (before,))
