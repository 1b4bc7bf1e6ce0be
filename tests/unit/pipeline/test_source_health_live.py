"""Issue 12: the source-health tracker follows the declarations as they change (controlled clock):
a source declared later is silent after its interval from when it was declared, an edit changes its
interval, a disabled source raises nothing, enabling restarts its interval, a deleted one is only
"seen"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from canhgac.core.config import SourceConfig
from canhgac.pipeline.source_health import SourceHealthTracker

T0 = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
API = SourceConfig(id="api-fw", agency="so-yte", expected_interval_secs=60)


def at(secs: int) -> datetime:
    return T0 + timedelta(seconds=secs)


def silent_ids(tracker: SourceHealthTracker, secs: int) -> list[str]:
    return [a["canhgac"]["source_id"] for a in tracker.check_silence(at(secs))]


def test_declared_later_edited_disabled_enabled_deleted() -> None:
    tracker = SourceHealthTracker([], T0)
    assert silent_ids(tracker, 3600) == []  # nothing declared yet
    tracker.sync([API], at(3600))  # declared through the API an hour after start
    assert silent_ids(tracker, 3650) == []  # its interval counts from the declaration
    tracker.sync([API.model_copy(update={"expected_interval_secs": 600})], at(3655))
    assert silent_ids(tracker, 3700) == []  # edited: 600 s now
    assert tracker.stats["api-fw"].snapshot(at(3700))["expected_interval_secs"] == 600
    tracker.sync([API.model_copy(update={"enabled": False})], at(3710))
    assert silent_ids(tracker, 9000) == []  # disabled: quiet is expected
    assert tracker.stats["api-fw"].snapshot(at(9000))["enabled"] is False
    tracker.sync([API], at(9000))  # enabled again: a fresh interval
    assert silent_ids(tracker, 9030) == []
    assert silent_ids(tracker, 9061) == ["api-fw"]
    tracker.sync([], at(9100))  # deleted: kept as a seen source, never silent again
    tracker.observe("api-fw", "so-yte", at(9200), is_error=False)
    assert silent_ids(tracker, 99999) == []
    assert tracker.stats["api-fw"].snapshot(at(9300))["expected_interval_secs"] is None
