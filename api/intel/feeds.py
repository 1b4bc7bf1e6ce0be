"""Feeds: where indicators come from on a schedule. A TAXII 2.1 collection or a MISP feed, stored in
`<config_index_prefix>-intel-feeds` with its schedule, last attempt, last success, the count of its
last poll and a cursor (TAXII `added_after`; for MISP the newest timestamp seen and what carried
it, `MispCursor`), so each poll asks only for what is new.

A feed is **stale** when it is enabled and has had no successful poll for `stale_after_secs`
(default three intervals): the feed list says so, the poller logs it, and raises one "feed stale"
alert (SOC's, per feed and outage) through the alerts topic.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from canhgac.api.intel import service
from canhgac.api.intel.models import FeedCreate, FeedKind, FeedUpdate
from canhgac.core.alert import SOC_AGENCY, AlertRule, Severity, alert_id, build_alert, iso
from canhgac.core.config import OpenSearchConfig
from canhgac.core.errors import Conflict, InvalidRequest, NotFound
from canhgac.core.index import Index
from canhgac.rules.intel.formats import (
    Parsed,
    misp_attributes,
    misp_timestamp,
    parse_misp_attributes,
    parse_misp_event,
    parse_stix_objects,
    parse_time,
)
from opensearchpy import AsyncOpenSearch

log = logging.getLogger(__name__)

TAXII_ACCEPT = "application/taxii+json;version=2.1"
TAXII_PAGE = 500
MAX_PAGES = 1_000  # a feed that keeps saying `more` is cut here (and polled on again next time)
MAX_MISP_EVENTS = 5_000
MISP_REST_PAGE = 1_000
MISP_REST_FIRST_DAYS = 30  # the first REST poll asks for what was published in these last days
HTTP_TIMEOUT_SECS = 30.0
STALE_RULE_ID = "canhgac-intel-feed-stale"


def _now() -> datetime:
    return datetime.now(UTC)


def stale_after(doc: dict[str, Any]) -> int:
    return int(doc.get("stale_after_secs") or 3 * int(doc["interval_secs"]))


def is_stale(doc: dict[str, Any], now: datetime) -> bool:
    if not doc.get("enabled", True):
        return False
    since = parse_time(doc.get("last_success_at")) or parse_time(doc.get("created_at")) or now
    return (now - since).total_seconds() > stale_after(doc)


def feed_out(doc: dict[str, Any], counts: dict[str, int], now: datetime) -> dict[str, Any]:
    public = {k: v for k, v in doc.items() if k not in ("password", "headers", "cursor", "stale_alert")}
    return {
        **public,
        "stale_after_secs": stale_after(doc),
        "indicator_count": counts.get(doc["id"], 0),
        "stale": is_stale(doc, now),
    }


async def list_feeds(client: AsyncOpenSearch, cfg: OpenSearchConfig) -> list[dict[str, Any]]:
    return sorted(await Index(client, cfg.intel_feeds_index).read_all(), key=lambda d: str(d["id"]))


async def get_feed(client: AsyncOpenSearch, cfg: OpenSearchConfig, feed_id: str) -> dict[str, Any]:
    return await Index(client, cfg.intel_feeds_index).get(feed_id, missing=f"no feed {feed_id}")


async def create_feed(client: AsyncOpenSearch, cfg: OpenSearchConfig, body: FeedCreate, by: str) -> dict[str, Any]:
    if body.kind is FeedKind.TAXII and not body.collection:
        raise InvalidRequest("a TAXII feed needs its `collection` id")
    doc = body.model_dump(mode="json", exclude={"password", "headers"})
    doc["password"] = body.password.get_secret_value() if body.password else None
    doc["headers"] = {k: v.get_secret_value() for k, v in body.headers.items()}
    doc |= {"created_by": by, "created_at": iso(_now()), "last_count": 0, "cursor": None}
    await Index(client, cfg.intel_feeds_index).put(
        body.id, doc, create=True, exists=f"feed {body.id} exists", refresh="wait_for"
    )
    return doc


async def update_feed(client: AsyncOpenSearch, cfg: OpenSearchConfig, feed_id: str, body: FeedUpdate) -> dict[str, Any]:
    # null means "no change", except for stale_after_secs, where it means "back to the default".
    changes = {
        k: v
        for k, v in body.model_dump(mode="json", exclude_unset=True).items()
        if v is not None or k == "stale_after_secs"
    }
    await Index(client, cfg.intel_feeds_index).update(
        feed_id, changes, missing=f"no feed {feed_id}", refresh="wait_for"
    )
    return await get_feed(client, cfg, feed_id)


async def delete_feed(client: AsyncOpenSearch, cfg: OpenSearchConfig, feed_id: str, *, indicators: bool) -> None:
    await Index(client, cfg.intel_feeds_index).delete(feed_id, missing=f"no feed {feed_id}", refresh="wait_for")
    if indicators:
        await Index(client, f"{cfg.indicators_index_prefix}-*").delete_by_query(
            {"term": {"feed": feed_id}}, refresh=True
        )


# ------------------------------------------------------------------------------------------ polls


def _http(doc: dict[str, Any]) -> httpx.AsyncClient:
    auth = (doc["username"], doc.get("password") or "") if doc.get("username") else None
    return httpx.AsyncClient(
        auth=auth,
        headers=dict(doc.get("headers") or {}),
        verify=bool(doc.get("verify_tls", True)),
        timeout=HTTP_TIMEOUT_SECS,
        follow_redirects=True,
    )


async def fetch_taxii(doc: dict[str, Any]) -> tuple[Parsed, str | None]:
    """New objects of the collection since the cursor (`added_after`), every page; the new cursor
    is the server's `X-TAXII-Date-Added-Last` of the last page."""
    url = f"{doc['url'].rstrip('/')}/collections/{doc['collection']}/objects/"
    cursor = doc.get("cursor")
    parsed = Parsed()
    params: dict[str, Any] = {"limit": TAXII_PAGE} | ({"added_after": cursor} if cursor else {})
    async with _http(doc) as http:
        for _ in range(MAX_PAGES):
            response = await http.get(url, params=params, headers={"Accept": TAXII_ACCEPT})
            response.raise_for_status()
            envelope = response.json() if response.content else {}
            parsed.extend(parse_stix_objects(envelope.get("objects") or []))
            cursor = response.headers.get("X-TAXII-Date-Added-Last") or cursor
            if not envelope.get("more") or not envelope.get("next"):
                break
            params = {"limit": TAXII_PAGE, "next": envelope["next"]} | (
                {"added_after": doc["cursor"]} if doc.get("cursor") else {}
            )
    return parsed, cursor


@dataclass(frozen=True)
class MispCursor:
    """Where a MISP poll resumes: the newest timestamp seen and the uuids (of events or attributes)
    seen with it. MISP's timestamps are whole seconds, so what changes in the same second as the
    newest thing seen, after the poll that saw it, carries that same timestamp: asking only for
    newer ones (`>`) skips it for ever (a feed event written in the second of the previous poll was
    never fetched), asking from it (`>=`) alone fetches the seen ones again. Stored in the feed as
    `<timestamp> <uuid>,<uuid>…`; a bare timestamp (cursors before) has no uuids, so what carries it
    is fetched once more and stored under the same indicator ids."""

    newest: int = 0
    seen: frozenset[str] = frozenset()

    @classmethod
    def read(cls, text: str | None) -> MispCursor:
        stamp, _, uuids = (text or "").partition(" ")
        if not stamp.isdigit():
            return cls()
        return cls(int(stamp), frozenset(u for u in uuids.split(",") if u))

    def is_new(self, timestamp: int, uuid: str) -> bool:
        return timestamp > self.newest or (timestamp == self.newest and uuid not in self.seen)

    def past(self, timestamp: int, uuid: str) -> MispCursor:
        """This cursor moved past one more fetched thing."""
        if timestamp > self.newest:
            return MispCursor(timestamp, frozenset([uuid]))
        if timestamp == self.newest:
            return MispCursor(timestamp, self.seen | {uuid})
        return self

    def __str__(self) -> str:
        return f"{self.newest} {','.join(sorted(self.seen))}".rstrip()


async def fetch_misp(doc: dict[str, Any]) -> tuple[Parsed, str | None]:
    """The manifest, then every event the cursor has not seen (oldest first, at most
    MAX_MISP_EVENTS a poll: the rest are the next poll's)."""
    base = doc["url"].rstrip("/")
    if base.endswith("/manifest.json"):
        base = base.removesuffix("/manifest.json")
    start = cursor = MispCursor.read(doc.get("cursor"))
    parsed = Parsed()
    async with _http(doc) as http:
        response = await http.get(f"{base}/manifest.json")
        response.raise_for_status()
        manifest = response.json()
        if not isinstance(manifest, dict):
            raise ValueError("manifest.json is not an object of events")
        listed = sorted((misp_timestamp(meta), uuid) for uuid, meta in manifest.items() if isinstance(meta, dict))
        for timestamp, uuid in [e for e in listed if start.is_new(*e)][:MAX_MISP_EVENTS]:
            event = await http.get(f"{base}/{uuid}.json")
            event.raise_for_status()
            parsed.extend(parse_misp_event(event.json()))
            cursor = cursor.past(timestamp, uuid)
    return parsed, str(cursor)


async def fetch_misp_rest(doc: dict[str, Any]) -> tuple[Parsed, str | None]:
    """A MISP instance's REST search (`POST <url>/attributes/restSearch`, the key in the feed's
    `Authorization` header): attributes for detection (`to_ids`) published in the last
    MISP_REST_FIRST_DAYS days on the first poll (`last`), then those changed from the cursor's
    timestamp on (`timestamp`, which MISP reads as "at or after"), less those it has seen, page by
    page."""
    base = doc["url"].rstrip("/")
    url = base if base.endswith("/attributes/restSearch") else f"{base}/attributes/restSearch"
    start = cursor = MispCursor.read(doc.get("cursor"))
    window: dict[str, Any] = {"timestamp": start.newest} if start.newest else {"last": f"{MISP_REST_FIRST_DAYS}d"}
    parsed = Parsed()
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    async with _http(doc) as http:
        for page in range(1, MAX_PAGES + 1):
            body = {
                "returnFormat": "json",
                "to_ids": True,
                "includeEventTags": True,
                "limit": MISP_REST_PAGE,
                "page": page,
                **window,
            }
            response = await http.post(url, json=body, headers=headers)
            response.raise_for_status()
            attributes = misp_attributes(response.json())
            new = []
            for attribute in attributes:
                stamp, uuid = misp_timestamp(attribute), str(attribute.get("uuid") or "")
                if start.is_new(stamp, uuid):
                    new.append(attribute)
                    cursor = cursor.past(stamp, uuid)
            parsed.extend(parse_misp_attributes(new))
            if len(attributes) < MISP_REST_PAGE:
                break
    return parsed, str(cursor)


FETCHERS = {FeedKind.TAXII: fetch_taxii, FeedKind.MISP: fetch_misp, FeedKind.MISP_REST: fetch_misp_rest}


async def poll_feed(client: AsyncOpenSearch, cfg: OpenSearchConfig, feed_id: str) -> dict[str, Any]:
    """Poll once now (by hand): store what is new, record the outcome on the feed (success or error).
    The attempt is recorded before the fetch, so a poller that listed the feed as due a moment ago
    skips it (`poll_if_due`)."""
    feeds = Index(client, cfg.intel_feeds_index)
    started = _now()
    doc = await get_feed(client, cfg, feed_id)
    await feeds.update(feed_id, {"last_attempt_at": iso(started)}, missing=f"no feed {feed_id}", retry_on_conflict=3)
    return await _poll(feeds, client, cfg, doc, started)


async def poll_if_due(client: AsyncOpenSearch, cfg: OpenSearchConfig, feed_id: str) -> dict[str, Any] | None:
    """The poller's poll of a feed it listed as due: None when the feed, read again now, is no longer
    due (polled by hand or by another API replica since the listing) or another poller claimed it
    first (the claim is the attempt's time, written with the version read). Without this, a poll by
    hand that ended between the listing and this poll was followed at once by a second fetch, from
    the cursor that poll had just moved."""
    feeds = Index(client, cfg.intel_feeds_index)
    started = _now()
    try:
        current = await feeds.get_versioned(feed_id)
    except NotFound:
        return None  # deleted since the listing
    if not is_due(current.source, started):
        return None
    try:
        await feeds.update(feed_id, {"last_attempt_at": iso(started)}, version=current)
    except (NotFound, Conflict):
        return None
    return await _poll(feeds, client, cfg, {**current.source, "id": feed_id}, started)


async def _poll(
    feeds: Index, client: AsyncOpenSearch, cfg: OpenSearchConfig, doc: dict[str, Any], started: datetime
) -> dict[str, Any]:
    feed_id = str(doc["id"])
    try:
        parsed, cursor = await FETCHERS[FeedKind(doc["kind"])](doc)
        docs = service.store_candidates(
            parsed.candidates,
            feed=feed_id,
            agency=doc.get("agency"),
            by=f"feed:{feed_id}",
            confidence=int(doc.get("confidence", 50)),
            severity=Severity(doc.get("severity") or Severity.HIGH),
            expires_days=doc.get("expires_days"),
        )
        stored = await service.store(client, cfg, docs)
    except (httpx.HTTPError, httpx.InvalidURL, ValueError, KeyError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        log.warning("feed %s poll failed: %s", feed_id, error)
        await feeds.update(feed_id, {"last_attempt_at": iso(started), "last_error": error}, refresh="wait_for")
        return {"feed": feed_id, "stored": 0, "skipped": {}, "status": "failed", "error": error}
    await feeds.update(
        feed_id,
        {
            "last_attempt_at": iso(started),
            "last_success_at": iso(_now()),
            "last_error": None,
            "last_count": stored,
            "cursor": cursor,
            "stale_alert": None,
        },
        refresh="wait_for",
    )
    log.info("feed %s: %d indicators stored, skipped %s", feed_id, stored, dict(parsed.skipped))
    return {
        "feed": feed_id,
        "stored": stored,
        "skipped": dict(parsed.skipped),
        "status": "ok",
        "error": None,
        "indicator_ids": [d["id"] for d in docs],  # what the caller retro-hunts (api/retro)
    }


def stale_alert(doc: dict[str, Any], since: datetime, now: datetime) -> dict[str, Any]:
    """One alert per feed and outage (its id takes the last success it is stale since)."""
    rule = AlertRule(
        id=STALE_RULE_ID,
        title=f"Threat-intel feed {doc['id']} is stale",
        level=Severity.MEDIUM.value,
        author="Canhgac",
        tags=["threat_intel"],
        description=f"no successful poll of {doc['url']} for {stale_after(doc)} s; last error: {doc.get('last_error')}",
    )
    group = {"feed": str(doc["id"])}
    return build_alert(
        alert_id=alert_id(STALE_RULE_ID, SOC_AGENCY, group, iso(since)),
        rule=rule,
        agency=SOC_AGENCY,
        created_by="intel-poller",
        first_seen=now,
        last_seen=now,
        count=1,
        group=group,
    ).to_document()


def is_due(doc: dict[str, Any], now: datetime) -> bool:
    last = parse_time(doc.get("last_attempt_at"))
    return bool(doc.get("enabled", True)) and (
        last is None or (now - last).total_seconds() >= int(doc["interval_secs"])
    )


async def due_feeds(client: AsyncOpenSearch, cfg: OpenSearchConfig, now: datetime) -> list[dict[str, Any]]:
    return [doc for doc in await list_feeds(client, cfg) if is_due(doc, now)]


async def mark_stale(
    client: AsyncOpenSearch, cfg: OpenSearchConfig, doc: dict[str, Any], now: datetime
) -> dict[str, Any] | None:
    """The feed's stale alert when it just became stale, else None. Once per outage across API
    replicas: the alert's id is recorded on the feed with the version just read, so of two pollers
    only the one whose write lands raises it (the other's write conflicts and it stays quiet)."""
    if not is_stale(doc, now) or doc.get("stale_alert"):
        return None
    feeds = Index(client, cfg.intel_feeds_index)
    try:
        current = await feeds.get_versioned(str(doc["id"]))
    except NotFound:
        return None
    doc = current.source
    if not is_stale(doc, now) or doc.get("stale_alert"):
        return None
    since = parse_time(doc.get("last_success_at")) or parse_time(doc.get("created_at")) or now
    alert = stale_alert(doc, since, now)
    try:
        await feeds.update(str(doc["id"]), {"stale_alert": alert["id"]}, version=current, refresh="wait_for")
    except (NotFound, Conflict):
        return None
    log.warning("threat-intel feed %s is stale (no success since %s)", doc["id"], iso(since))
    return alert


async def unmark_stale(client: AsyncOpenSearch, cfg: OpenSearchConfig, feed_id: str, stale_alert_id: str) -> None:
    """Forget the feed's stale alert after its publish failed (Kafka down), so the next round raises
    it again: recorded, it would never be. Only if the feed still names that alert."""
    feeds = Index(client, cfg.intel_feeds_index)
    try:
        current = await feeds.get_versioned(feed_id)
        if current.source.get("stale_alert") == stale_alert_id:
            await feeds.update(feed_id, {"stale_alert": None}, version=current, refresh="wait_for")
    except (NotFound, Conflict):
        return  # deleted, or written meanwhile (a success ended the outage, or another poller)
