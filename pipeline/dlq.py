"""Dead letters: records a stage could not handle, kept with the reason on `canhgac.dlq.v1`.

One record shape for every stage (the DLQ contract):
    {"@timestamp", "stage", "reason", "detail", "record"}
where `record` is the original as it was read (the raw envelope, the event, the alert) or, when
it was not even JSON, its text. `reason` is a short stable word (`bad_event`, `index_refused`,
`parse_error`, …), the label of `canhgac_dlq_total{stage, reason}`.

A stage collects a batch's dead letters in a `DeadLetters` and the stage base sends them with the
batch's other writes, before the offsets are committed: a dead letter is never lost and never
silent — `add` both counts it and logs it (one call, as Vector's internal events do).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from canhgac.core.envelope import RawEnvelope, utc_now_iso
from canhgac.core.metrics import Metrics

log = logging.getLogger(__name__)

KafkaItem = tuple[bytes | None, bytes]
# A flood of junk must not flood the log: one line per (stage, reason) per interval; the metric counts all.
LOG_INTERVAL_SECS = 10.0
_last_logged: dict[tuple[str, str], float] = {}


def _original(record: object) -> Any:
    if isinstance(record, RawEnvelope):
        return orjson.loads(record.to_json())
    if isinstance(record, bytes | bytearray | memoryview):
        return bytes(record).decode("utf-8", errors="replace")
    return record


def dead_letter(stage: str, reason: str, detail: str, record: object) -> dict[str, Any]:
    """The DLQ record for `record` (an envelope, an event/alert dict, or undecodable bytes)."""
    return {
        "@timestamp": utc_now_iso(),
        "stage": stage,
        "reason": reason,
        "detail": detail,
        "record": _original(record),
    }


@dataclass(slots=True)
class DeadLetters:
    """One batch's dead letters, counted and logged as they are added."""

    stage: str
    metrics: Metrics
    items: list[KafkaItem] = field(default_factory=list)

    def add(self, key: bytes | None, reason: str, detail: str, record: object) -> None:
        self.add_record(key, dead_letter(self.stage, reason, detail, record))

    def add_record(self, key: bytes | None, letter: dict[str, Any]) -> None:
        """A dead letter built elsewhere (the normalizer's parsers return theirs)."""
        reason = str(letter["reason"])
        self.metrics.dlq.labels(self.stage, reason).inc()
        now = time.monotonic()
        if now - _last_logged.get((self.stage, reason), -LOG_INTERVAL_SECS) >= LOG_INTERVAL_SECS:
            _last_logged[(self.stage, reason)] = now
            log.warning("%s: dead letter (%s): %s", self.stage, reason, str(letter["detail"])[:300])
        self.items.append((key, orjson.dumps(letter, option=orjson.OPT_NON_STR_KEYS)))

    def __len__(self) -> int:
        return len(self.items)
