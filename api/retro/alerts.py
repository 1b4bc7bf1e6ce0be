"""What a retro-hunt's matches become: alerts gathered per group (`Pending`) and written with the
stream's identity (rules/intel/hunt.py), with their `retro` block; and the matching functions of
the two kinds of hunt."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from canhgac.core.alert import AlertRule, IndicatorInfo, RetroInfo, build_alert, iso
from canhgac.core.safe_yaml import load_all
from canhgac.rules.intel.alerts import indicator_info, rule_for
from canhgac.rules.intel.formats import parse_time
from canhgac.rules.intel.hunt import agency_of, group_key
from canhgac.rules.intel.matcher import IndicatorMatcher

CREATED_BY = "retro-hunt"
MAX_EVENT_IDS = 100
# (rule id, the alert's rule block, indicator block, retro block) per match of one event
Match = tuple[str, AlertRule, IndicatorInfo | None, RetroInfo]


@dataclass
class Pending:
    """One alert being gathered: its group's events so far."""

    bucket: int
    match: Match
    snapshot: dict[str, Any]
    first: datetime
    last: datetime
    count: int = 0
    event_ids: list[str] = field(default_factory=list)

    def add(self, event: dict[str, Any], ts: datetime) -> None:
        event_id = (event.get("event") or {}).get("id") if isinstance(event.get("event"), dict) else None
        if isinstance(event_id, str) and event_id:
            if event_id in self.event_ids:
                return
            if len(self.event_ids) < MAX_EVENT_IDS:
                self.event_ids.append(event_id)
        self.count += 1
        self.first = min(self.first, ts)
        self.last = max(self.last, ts)

    def document(self, alert_id: str) -> dict[str, Any]:
        _rule_id, rule, info, retro = self.match
        return build_alert(
            alert_id=alert_id,
            rule=rule,
            agency=agency_of(self.snapshot),
            created_by=CREATED_BY,
            first_seen=self.first,
            last_seen=self.last,
            count=self.count,
            event_ids=self.event_ids,
            snapshot=self.snapshot,
            group=group_key(self.snapshot),
            indicator=info,
            retro=retro,
        ).to_document()


def indicator_matches(
    matcher: IndicatorMatcher, job_id: str, arrived: dict[str, Any]
) -> Callable[[dict[str, Any]], list[Match]]:
    def match(event: dict[str, Any]) -> list[Match]:
        out: list[Match] = []
        for hit in matcher.match(event, agency_of(event), time.time()):
            indicator = hit.indicator
            rule = rule_for(indicator)
            retro = RetroInfo(
                kind="indicator",
                job=job_id,
                arrived_at=_iso_or_none(arrived.get(indicator.id)),
                feed=indicator.feed,
            )
            out.append((rule.id, AlertRule.of(rule), indicator_info(hit), retro))
        return out

    return match


def _iso_or_none(value: Any) -> str | None:
    parsed = parse_time(value)
    return iso(parsed) if parsed else None


def rule_block(text: str, rule_id: str, title: str) -> AlertRule:
    """The alert's rule block from the rule's YAML (its first document)."""
    docs = [d for d in load_all(text) if isinstance(d, dict)]
    meta = docs[0] if docs else {}

    def strings(value: Any) -> list[str]:
        return [str(v) for v in value] if isinstance(value, list) else []

    author = meta.get("author")
    return AlertRule(
        id=rule_id,
        title=title,
        level=str(meta.get("level") or "medium"),
        author=str(author) if author else None,
        tags=strings(meta.get("tags")),
        references=strings(meta.get("references")),
        description=str(meta["description"]) if meta.get("description") else None,
    )
