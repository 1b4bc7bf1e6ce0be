"""Where a MISP poll resumes (`MispCursor`): MISP's timestamps are whole seconds, so what changes in
the second of the newest thing a poll saw is new next time, and what a poll saw is not."""

from __future__ import annotations

from canhgac.api.intel.feeds import MispCursor


def test_same_second_is_new_unless_seen() -> None:
    cursor = MispCursor().past(100, "a").past(100, "b")
    assert (cursor.newest, cursor.seen) == (100, {"a", "b"})
    assert not cursor.is_new(100, "a") and not cursor.is_new(99, "z")
    assert cursor.is_new(100, "c") and cursor.is_new(101, "a")
    newer = cursor.past(101, "c")
    assert (newer.newest, newer.seen) == (101, {"c"})
    assert newer.past(100, "d") == newer  # older than the newest: already behind the cursor


def test_stored_text_round_trips_and_reads_old_cursors() -> None:
    cursor = MispCursor().past(1764000000, "b-uuid").past(1764000000, "a-uuid")
    assert str(cursor) == "1764000000 a-uuid,b-uuid"
    assert MispCursor.read(str(cursor)) == cursor
    # Cursors written before held the bare timestamp: what carries it is fetched once more.
    assert MispCursor.read("1764000000") == MispCursor(1764000000, frozenset())
    assert MispCursor.read(None) == MispCursor.read("") == MispCursor.read("junk") == MispCursor()
    assert str(MispCursor()) == "0" and MispCursor.read("0") == MispCursor()
