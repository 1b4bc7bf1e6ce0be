"""The notifier's state snapshot (what the next elected owner restores): a WAL database copied
whole, outbox rows, held alerts and escalation times included."""

from __future__ import annotations

from pathlib import Path

from canhgac.pipeline.notify.db import Database, restore_file


def test_a_snapshot_restores_the_committed_state_into_a_new_file(tmp_path: Path) -> None:
    db = Database(tmp_path / "owner" / "outbox.sqlite3")
    with db.transaction() as conn:
        conn.execute("INSERT INTO held (route, alert_id, reason, held_at) VALUES ('noisy', 'a-1', 'throttled', 1.0)")
        conn.execute(
            "INSERT INTO deliveries (alert_id, route, state, notified_at, next_escalation_at)"
            " VALUES ('a-2', 'page', 'notified', 1.0, 901.0)"
        )
    assert db.changes == 2
    snapshot = db.snapshot()
    db.close()

    target = tmp_path / "next-owner" / "outbox.sqlite3"
    target.parent.mkdir()
    target.write_bytes(b"stale state of an earlier term")
    restore_file(target, snapshot)
    restored = Database(target)
    assert restored.journal_mode() == "wal"
    assert [tuple(r) for r in restored.conn.execute("SELECT route, alert_id FROM held")] == [("noisy", "a-1")]
    assert restored.conn.execute("SELECT next_escalation_at FROM deliveries").fetchone()[0] == 901.0
    assert restored.changes == 0
    restored.close()
