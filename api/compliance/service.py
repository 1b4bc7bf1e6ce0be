"""Live coverage per information system, and the "log category missing" alerts (core/compliance.py).

Every `compliance.interval_secs` each API replica runs one round:

1. one aggregation over the event indices of the last `lookback_secs`: per system (its agency and
   its hosts or sources) and per log category, the newest `event.ingested`;
2. the coverage document of each system (`<config_index_prefix>-coverage`, id `system:<id>`) is
   rewritten: last seen per category (the newer of the stored one and this round's, so a category
   older than the look-back keeps its time), required or not, and missing since when;
3. a required category silent for more than its level's `missing_after_secs` raises an alert
   whose id is rule + agency + system + category + the silence's start. The replica that creates
   the claim `alert:<alert id>` (`op_type=create`) publishes it; the others get 409 and do not;
4. an open claim whose silence is over (the category arrived, the system was deleted or no longer
   requires it) is closed by a conditional update (`if_seq_no`): the winner publishes the alert
   with `cleared_at`.

Both replicas compute from the same stored events, so they agree on the ids; the claims make each
raise and each clearing published once. A publish that fails deletes the claim (next round again).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from canhgac.core.alert import AlertRule, Severity, alert_id, build_alert, iso
from canhgac.core.compliance import (
    COVERAGE_RULE_ID,
    DEFAULT_POLICY_FILE,
    CompliancePolicy,
    LogCategory,
    category_query,
    load_policy,
    parse_time,
)
from canhgac.core.config import OpenSearchConfig, Settings
from canhgac.core.errors import BackendUnavailable, CanhgacError, ConfigError, Conflict, NotFound
from canhgac.core.index import Index, translated
from canhgac.core.systems import systems_index
from opensearchpy import AsyncOpenSearch

log = logging.getLogger(__name__)

Publish = Callable[[dict[str, Any]], Awaitable[bool]]


def coverage_index(cfg: OpenSearchConfig) -> str:
    return f"{cfg.config_index_prefix}-coverage"


def state_id(system_id: str) -> str:
    return f"system:{system_id}"


class PolicyFile:
    """The policy, re-read when the file changes; a bad edit keeps the last good policy (logged)."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else DEFAULT_POLICY_FILE
        self._mtime: float | None = None
        self.policy: CompliancePolicy = load_policy(self.path)  # a bad file at start stops start-up
        self._mtime = self._stat()

    def _stat(self) -> float | None:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return None

    def current(self) -> CompliancePolicy:
        mtime = self._stat()
        if mtime is not None and mtime != self._mtime:
            self._mtime = mtime
            try:
                self.policy = load_policy(self.path)
                log.info("compliance policy %s re-read", self.path)
            except ConfigError as exc:
                log.error("%s; keeping the previous policy", exc)
        return self.policy


def system_query(system: dict[str, Any]) -> dict[str, Any]:
    """The events of one system: its agency's, from its sources or its hosts (names compared
    without case, addresses as `host.ip`)."""
    should: list[dict[str, Any]] = []
    if system.get("sources"):
        should.append({"terms": {"canhgac.source_id": list(system["sources"])}})
    addresses = []
    for host in system.get("hosts") or ():
        try:
            addresses.append(str(ipaddress.ip_address(host)))
        except ValueError:
            should.append({"term": {"host.name": {"value": str(host), "case_insensitive": True}}})
    if addresses:
        should.append({"terms": {"host.ip": addresses}})
    if not should:
        return {"match_none": {}}
    return {
        "bool": {
            "filter": [{"term": {"canhgac.agency": system.get("agency")}}],
            "should": should,
            "minimum_should_match": 1,
        }
    }


async def last_seen_by_system(
    client: AsyncOpenSearch, cfg: OpenSearchConfig, systems: list[dict[str, Any]], since: datetime
) -> dict[str, dict[str, str]]:
    """system id -> category -> newest `event.ingested` since `since` (one aggregation)."""
    if not systems:
        return {}
    body = {
        "size": 0,
        "query": {"range": {"event.ingested": {"gte": iso(since)}}},
        "aggs": {
            "systems": {
                "filters": {"filters": {str(s["id"]): system_query(s) for s in systems}},
                "aggs": {
                    "categories": {
                        "filters": {"filters": {c.value: category_query(c) for c in LogCategory}},
                        "aggs": {"last": {"max": {"field": "event.ingested"}}},
                    }
                },
            }
        },
    }
    result = await Index(client, f"{cfg.index_prefix}.*").search(body)
    out: dict[str, dict[str, str]] = {}
    buckets = result.get("aggregations", {}).get("systems", {}).get("buckets", {})
    for system_id, bucket in buckets.items():
        for category, cat_bucket in bucket["categories"]["buckets"].items():
            value = cat_bucket["last"].get("value")
            if cat_bucket["doc_count"] and value is not None:
                out.setdefault(system_id, {})[category] = iso(datetime.fromtimestamp(value / 1000, UTC))
    return out


def _newer(a: str | None, b: str | None) -> str | None:
    times = [t for t in (a, b) if t]
    return max(times, key=lambda t: parse_time(t) or datetime.min.replace(tzinfo=UTC)) if times else None


def coverage_of(
    system: dict[str, Any],
    policy: CompliancePolicy,
    last_seen: dict[str, str],
    watched_since: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """Each category of one system: required, last seen, `ok`/`missing`/`not_required`, and for a
    missing one since when (its last event, or when coverage began watching the system)."""
    level = int(system.get("security_level") or 0)
    required = set(policy.required(level))
    after = timedelta(seconds=policy.missing_after(level))
    rows = []
    for category in LogCategory:
        seen = last_seen.get(category.value)
        row: dict[str, Any] = {
            "category": category.value,
            "required": category in required,
            "last_seen": seen,
            "status": "ok" if seen else "not_required",
            "missing_since": None,
        }
        if category in required:
            since = seen or watched_since
            since_time = parse_time(since) or now
            missing = now - since_time > after
            row["status"] = "missing" if missing else "ok"
            row["missing_since"] = since if missing else None
        rows.append(row)
    return rows


def coverage_alert(system: dict[str, Any], category: str, since: str, after_secs: int, now: datetime) -> dict[str, Any]:
    """One silence of one required category of one system; stable id (rule, agency, system,
    category, start of the silence)."""
    group = {"system.id": str(system["id"]), "canhgac.log_category": category}
    agency = str(system.get("agency"))
    sources = list(system.get("sources") or ())
    hosts = list(system.get("hosts") or ())
    level = int(system.get("security_level") or 0)
    alert = build_alert(
        alert_id=alert_id(COVERAGE_RULE_ID, agency, group, since),
        rule=AlertRule(
            id=COVERAGE_RULE_ID,
            title=f"Log category missing: {category} ({system.get('name') or system['id']}, level {level})",
            level=Severity.HIGH if level >= 4 else Severity.MEDIUM,
            author="Canhgac",
            tags=["canhgac.compliance"],
            references=[],
            description=(
                f"System {system['id']} (security level {level}) must send {category} logs; none for more than "
                f"{after_secs} s since {since} (Hệ thống không gửi loại log bắt buộc theo cấp độ)."
            ),
        ),
        agency=agency,
        created_by="compliance",
        first_seen=now,
        last_seen=now,
        count=1,
        snapshot={"canhgac": {"system_id": str(system["id"]), "log_category": category, "last_seen": since}},
        group=group,
        # So the alert indexer places it on its system (priority): the system's first source, or host.
        source_id=sources[0] if sources else None,
        host=None if sources else (hosts[0] if hosts else None),
        now=now,
    )
    return alert.to_document()


async def _watch_since(index: Index, system_id: str, stored: dict[str, Any] | None, now: datetime) -> str:
    """When coverage began watching the system: the first replica's time (create wins)."""
    if stored and stored.get("watched_since"):
        return str(stored["watched_since"])
    try:
        await index.put(
            state_id(system_id), {"kind": "state", "system_id": system_id, "watched_since": iso(now)}, create=True
        )
        return iso(now)
    except Conflict:
        found = await index.get(state_id(system_id))
        return str(found.get("watched_since") or iso(now))


async def coverage_round(
    client: AsyncOpenSearch,
    settings: Settings,
    policy: CompliancePolicy,
    publish: Publish,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """One round (see the module); returns the alerts this replica published (raised or cleared)."""
    now = now or datetime.now(UTC)
    cfg = settings.opensearch
    index = Index(client, coverage_index(cfg))
    systems = await Index(client, systems_index(cfg)).read_all()
    stored = {d.get("system_id"): d for d in await index.read_all({"term": {"kind": "state"}})}
    seen_now = await last_seen_by_system(
        client, cfg, systems, now - timedelta(seconds=settings.compliance.lookback_secs)
    )
    missing: dict[str, tuple[dict[str, Any], str, str]] = {}  # alert id -> (system, category, since)
    for system in systems:
        sid = str(system["id"])
        previous = stored.get(sid)
        watched_since = await _watch_since(index, sid, previous, now)
        last = dict((previous or {}).get("last_seen") or {})
        for category, when in seen_now.get(sid, {}).items():
            last[category] = _newer(last.get(category), when) or when
        rows = coverage_of(system, policy, last, watched_since, now)
        level = int(system.get("security_level") or 0)
        for row in rows:
            if row["status"] == "missing":
                aid = alert_id(
                    COVERAGE_RULE_ID,
                    str(system.get("agency")),
                    {"system.id": sid, "canhgac.log_category": row["category"]},
                    row["missing_since"],
                )
                missing[aid] = (system, row["category"], row["missing_since"])
        await index.put(
            state_id(sid),
            {
                "kind": "state",
                "system_id": sid,
                "name": system.get("name"),
                "agency": system.get("agency"),
                "security_level": level,
                "watched_since": watched_since,
                "last_seen": last,
                "categories": rows,
                "missing": [r["category"] for r in rows if r["status"] == "missing"],
                "missing_after_secs": policy.missing_after(level),
                "updated_at": iso(now),
            },
        )
    for gone in set(stored) - {str(s["id"]) for s in systems}:
        await index.delete(state_id(str(gone)))
    with translated():  # the console reads the round at once (one refresh, not one per system)
        await client.indices.refresh(index=index.name)
    published: list[dict[str, Any]] = []
    open_claims = await index.read_all(
        {"bool": {"filter": [{"term": {"kind": "alert"}}], "must_not": [{"exists": {"field": "cleared_at"}}]}}
    )
    open_ids = {str(c.get("alert_id")) for c in open_claims}
    for aid, (system, category, since) in sorted(missing.items()):
        if aid in open_ids:
            continue
        level = int(system.get("security_level") or 0)
        alert = coverage_alert(system, category, since, policy.missing_after(level), now)
        claim = {
            "kind": "alert",
            "alert_id": aid,
            "system_id": str(system["id"]),
            "agency": system.get("agency"),
            "category": category,
            "missing_since": since,
            "raised_at": iso(now),
            "alert": alert,
        }
        try:
            await index.put(f"alert:{aid}", claim, create=True, refresh="wait_for")
        except Conflict:
            continue  # another replica raised it
        if await publish(alert):
            published.append(alert)
        else:
            await index.delete(f"alert:{aid}", refresh="wait_for")
    for claim in open_claims:
        aid = str(claim.get("alert_id"))
        if aid in missing:
            continue
        try:
            current = await index.get_versioned(f"alert:{aid}")
            if current.source.get("cleared_at"):
                continue
            await index.update(f"alert:{aid}", {"cleared_at": iso(now)}, version=current, refresh="wait_for")
        except (Conflict, NotFound):
            continue  # another replica cleared it
        alert = dict(current.source["alert"])
        alert["count"] = int(alert.get("count", 1)) + 1
        alert["cleared_at"] = iso(now)
        alert["last_seen"] = iso(now)
        if await publish(alert):
            published.append(alert)
        else:
            await index.update(f"alert:{aid}", {"cleared_at": None}, refresh="wait_for")
    return published


async def coverage_loop(
    client: AsyncOpenSearch, settings: Settings, policy: PolicyFile, publish: Publish, stop: asyncio.Event
) -> None:
    """Rounds every `compliance.interval_secs` until `stop`; a failed round waits for the next."""
    while not stop.is_set():
        try:
            await coverage_round(client, settings, policy.current(), publish)
        except (CanhgacError, BackendUnavailable) as exc:
            log.warning("coverage round failed (next in %.0f s): %s", settings.compliance.interval_secs, exc)
        except Exception:  # never let the loop die: coverage must go on
            log.exception("coverage round failed")
        try:
            await asyncio.wait_for(stop.wait(), timeout=settings.compliance.interval_secs)
        except TimeoutError:
            pass


async def list_coverage(
    client: AsyncOpenSearch, cfg: OpenSearchConfig, agency: str | None, system_id: str | None = None
) -> list[dict[str, Any]]:
    """Coverage documents, the caller's agency's only; each with its open coverage alerts."""
    filters: list[dict[str, Any]] = [{"term": {"kind": "state"}}]
    if agency is not None:
        filters.append({"term": {"agency": agency}})
    if system_id is not None:
        filters.append({"term": {"system_id": system_id}})
    index = Index(client, coverage_index(cfg))
    states = await index.read_all({"bool": {"filter": filters}})
    claims = await index.read_all(
        {"bool": {"filter": [{"term": {"kind": "alert"}}], "must_not": [{"exists": {"field": "cleared_at"}}]}}
    )
    alerts: dict[str, list[dict[str, Any]]] = {}
    for claim in claims:
        alerts.setdefault(str(claim.get("system_id")), []).append(
            {
                "alert_id": claim.get("alert_id"),
                "category": claim.get("category"),
                "missing_since": claim.get("missing_since"),
            }
        )
    out = []
    for state in sorted(states, key=lambda s: str(s.get("system_id"))):
        if not state.get("categories"):
            continue  # created, not computed yet
        out.append(
            {
                **{k: v for k, v in state.items() if k not in ("id", "kind")},
                "open_alerts": alerts.get(str(state.get("system_id")), []),
            }
        )
    return out
