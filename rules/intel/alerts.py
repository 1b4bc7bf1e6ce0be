"""What a threat-intel match looks like as an alert: the indicator stands in for the rule (so its
hits group as one rule's matches do: per agency, host, user, source address and window), and the
alert's `indicator` block says what was met, from which feed, how sure the feed is, and where."""

from __future__ import annotations

from dataclasses import dataclass

from canhgac.core.alert import IndicatorInfo
from canhgac.rules.intel.indicators import Indicator
from canhgac.rules.intel.matcher import Hit

RULE_ID_PREFIX = "intel:"


@dataclass(frozen=True, slots=True)
class IndicatorRule:
    """core.alert.RuleLike for one indicator."""

    id: str
    title: str
    level: str | None
    author: str | None
    tags: tuple[str, ...]
    references: tuple[str, ...]
    description: str | None


def rule_for(indicator: Indicator) -> IndicatorRule:
    return IndicatorRule(
        id=f"{RULE_ID_PREFIX}{indicator.id}",
        title=f"Threat intel: {indicator.type.value} {indicator.value}",
        level=indicator.severity.value,
        author=f"feed {indicator.feed}",
        tags=("threat_intel", *indicator.tags),
        references=(),
        description=indicator.reason,
    )


def indicator_info(hit: Hit) -> IndicatorInfo:
    indicator = hit.indicator
    return IndicatorInfo(
        id=indicator.id,
        type=indicator.type.value,
        value=indicator.value,
        feed=indicator.feed,
        agency=indicator.agency,
        confidence=indicator.confidence,
        severity=indicator.severity.value,
        tags=list(indicator.tags),
        reason=indicator.reason,
        field=hit.field,
        observed=hit.observed,
    )
