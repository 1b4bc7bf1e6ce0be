"""The retro-hunt runner: a background task of the API process (beside the feed poller) that takes
queued jobs one at a time (api/retro/service.claim_next) and searches the stored events.

A job is a list of segments: one query per tenant and chunk of indicators (an indicator hunt), or
the rule's converted queries (a rule hunt, through the backtest's conversion). Each segment is read
in pages sorted by time (`search_after`); every hit of an indicator hunt is checked again by the
stream's matcher. Matches fold into alerts with the stream's identity (rules/intel/hunt.py), written
with `create`: an alert already there (raised by the stream or an earlier hunt) is left as it is
and counted `alerts_existing`, so a hunt run again raises nothing twice. A window's alert is
written once the pages have passed its end, so it holds every event of its group.

Bounded (`max_events_per_job`, `max_alerts_per_job`), cancellable (the job's flag is read after
every page), paced (after a page that took t seconds it sleeps t × (1/max_duty_cycle − 1), at least
`min_pause_secs`), and resumable: after each page the job records where its earliest unwritten
window starts, and a job taken again (restart, lost lease) reads from there.

Nothing stored is left unheard: a new alert is published through an acknowledged publish (True
once Kafka has it); the ids Kafka did not acknowledge are kept in the job's `unpublished` and
published again (as stored) before the job finishes, every `check_interval_secs` until none is left.
The ids are recorded there before their alerts are written, so a job interrupted between the two
(OpenSearch gone, the process killed) and resumed publishes them too (a copy may then be published
twice: receivers dedupe on the alert's id). A job that fails publishes them before it says `failed`:
meanwhile it stays running with its `error`, and a runner taking it again only publishes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from canhgac.api.events.service import AGENCY_FIELD, TIME_FIELD, events_pattern
from canhgac.api.lists.service import stored_lists
from canhgac.api.query_guard import MAX_DETERMINIZED_STATES
from canhgac.api.retro.alerts import Match, Pending, indicator_matches, rule_block
from canhgac.api.retro.models import JobKind, JobState
from canhgac.api.retro.service import claim_next, jobs_index
from canhgac.api.rules.backtest import convert_text
from canhgac.api.rules.service import file_rule_ids, rule_docs
from canhgac.core.alert import RetroInfo, iso
from canhgac.core.config import Settings
from canhgac.core.errors import BackendUnavailable, CanhgacError
from canhgac.core.index import Index, translated
from canhgac.core.systems import Inventory, place_alert, systems_index
from canhgac.rules.convert import DEFAULT_FIELD, TYPED_FIELDS
from canhgac.rules.intel.hunt import WINDOW_SECS, event_time, prefilter, stream_alert_id
from canhgac.rules.intel.indicators import Indicator
from canhgac.rules.intel.matcher import IndicatorMatcher
from opensearchpy import AsyncOpenSearch

log = logging.getLogger(__name__)
SORT = [
    {TIME_FIELD: {"order": "asc", "unmapped_type": "date"}},
    {"event.id": {"order": "asc", "unmapped_type": "keyword"}},
]
Publish = Callable[[dict[str, Any]], Awaitable[bool]]  # True once Kafka acknowledged


@dataclass
class Segment:
    query: dict[str, Any]
    match: Callable[[dict[str, Any]], list[Match]]


class JobStopped(Exception):
    """The API is shutting down: the job stays running, its lease released, to be taken again."""


class LeaseLost(Exception):
    """Another runner took the job (this one was taken for dead): stop without writing."""


class HuntFailed(Exception):
    """The job cannot run (its rule is gone or not convertible): it fails with this message."""


class RetroRunner:
    def __init__(self, client: AsyncOpenSearch, settings: Settings, publish: Publish) -> None:
        self.client = client
        self.settings = settings
        self.cfg = settings.retro_hunt
        self.publish = publish
        self.owner = f"runner-{uuid.uuid4().hex[:12]}"
        self.jobs = Index(client, jobs_index(settings.opensearch))

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once(stop)
            except BackendUnavailable as exc:
                log.warning("retro-hunt runner: OpenSearch unavailable, retrying: %s", exc)
            except Exception:  # the supervisor boundary of the runner task: log, go on
                log.exception("retro-hunt runner failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.cfg.check_interval_secs)

    async def run_once(self, stop: asyncio.Event) -> str | None:
        """Take the next job and run it to its end (or to shutdown); its id, or None."""
        job = await claim_next(self.client, self.settings.opensearch, self.owner, self.cfg.lease_secs)
        if job is None:
            return None
        try:
            await self._execute(job, stop)
        except JobStopped:
            await self._update(job, {"lease_until": iso(datetime.now(UTC))})
        except LeaseLost:
            log.warning("retro-hunt %s was taken over by another runner; this one stops", job["id"])
        except BackendUnavailable:
            await self._release_quietly(job)
            raise
        return str(job["id"])

    async def _release_quietly(self, job: dict[str, Any]) -> None:
        with contextlib.suppress(CanhgacError):
            await self._update(job, {"lease_until": iso(datetime.now(UTC))})

    async def _update(self, job: dict[str, Any], changes: dict[str, Any]) -> None:
        changes = {"updated_at": iso(datetime.now(UTC)), **changes}
        job.update(changes)
        await self.jobs.update(str(job["id"]), changes)  # read back by id: no refresh to wait for

    async def _finish(self, job: dict[str, Any], state: JobState, changes: dict[str, Any]) -> None:
        progress = dict(job.get("progress") or {})
        if state is JobState.DONE:
            progress["percent"] = 100.0
        await self._update(
            job,
            {
                "state": state.value,
                "finished_at": iso(datetime.now(UTC)),
                "lease_until": None,
                "progress": progress,
                **changes,
            },
        )
        log.info(
            "retro-hunt %s %s: %d events scanned, %d matched, %d alerts raised, %d already raised",
            job["id"],
            state.value,
            job.get("events_scanned", 0),
            job.get("events_matched", 0),
            job.get("alerts_raised", 0),
            job.get("alerts_existing", 0),
        )

    # ------------------------------------------------------------------------------- one job

    async def _execute(self, job: dict[str, Any], stop: asyncio.Event) -> None:
        if job.get("error"):  # it failed, and was stopped while it published its alerts: only those
            await self._fail(job, str(job["error"]), stop)
            return
        try:
            await self._search(job, stop)
        except BackendUnavailable:
            raise  # the job stays running, to be taken again
        except HuntFailed as exc:
            await self._fail(job, str(exc)[:1000], stop)
        except (CanhgacError, ValueError, KeyError, TypeError) as exc:
            await self._fail(job, f"{type(exc).__name__}: {exc}"[:1000], stop)

    async def _fail(self, job: dict[str, Any], error: str, stop: asyncio.Event) -> None:
        """Finish the job `failed` with its error, once Kafka acknowledged the alerts it holds in
        `unpublished`: until then it stays running with the error recorded (taken again after a
        restart, it goes straight here)."""
        log.warning("retro-hunt %s failed: %s", job["id"], error)
        if job.get("unpublished"):
            await self._current(job)  # LeaseLost when another runner took the job
            await self._update(job, {"error": error, "unpublished": job["unpublished"]})
            await self._publish_pending(job, stop)
        await self._finish(job, JobState.FAILED, {"error": error})

    async def _search(self, job: dict[str, Any], stop: asyncio.Event) -> None:
        if not job.get("range_end"):
            end = datetime.now(UTC)
            start = end - timedelta(days=int(job["lookback_days"]))
            await self._update(job, {"started_at": iso(end), "range_start": iso(start), "range_end": iso(end)})
        segments = await self._segments(job)
        cursor = job.get("cursor") or {"segment": 0, "resume_from": None}
        inventory = Inventory(await Index(self.client, systems_index(self.settings.opensearch)).read_all())
        for at in range(int(cursor["segment"]), len(segments)):
            resume_from = cursor.get("resume_from") if at == int(cursor["segment"]) else None
            outcome = await self._segment(job, at, len(segments), segments[at], resume_from, inventory, stop)
            if outcome is not None:
                await self._publish_pending(job, stop)
                await self._finish(job, JobState(outcome[0]), outcome[1])
                return
        await self._publish_pending(job, stop)
        await self._finish(job, JobState.DONE, {})

    async def _publish_pending(self, job: dict[str, Any], stop: asyncio.Event) -> None:
        """Publish again, as stored now, the alerts Kafka did not acknowledge, until none is left:
        the job stays running (its lease renewed) meanwhile, and is taken again after a restart."""
        alerts = Index(self.client, self.settings.opensearch.alerts_index)
        while job.get("unpublished"):
            left = []
            for alert_id in job["unpublished"]:
                document = await alerts.find(alert_id)  # gone (retention): nothing left to tell
                if document is not None and not await self.publish({**document, "id": alert_id}):
                    left.append(alert_id)
            await self._current(job)  # LeaseLost when another runner took the job
            lease = iso(datetime.now(UTC) + timedelta(seconds=self.cfg.lease_secs))
            await self._update(job, {"unpublished": left, "lease_until": lease})
            if left:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.cfg.check_interval_secs)
                if stop.is_set():
                    raise JobStopped

    async def _segments(self, job: dict[str, Any]) -> list[Segment]:
        if job["kind"] == JobKind.RULE:
            return await self._rule_segments(job)
        return await self._indicator_segments(job)

    async def _indicator_segments(self, job: dict[str, Any]) -> list[Segment]:
        cfg = self.settings.opensearch
        ids = list(job.get("indicator_ids") or [])
        docs: list[dict[str, Any]] = []
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            found = await Index(self.client, f"{cfg.indicators_index_prefix}-*").search(
                {"size": len(chunk), "query": {"ids": {"values": chunk}}}
            )
            docs += [{**h["_source"], "id": h["_id"]} for h in found["hits"]["hits"]]
        arrived = {str(d["id"]): d.get("updated_at") or job.get("arrived_at") for d in docs}
        by_tenant: dict[str | None, list[Indicator]] = {}
        for doc in docs:
            try:
                indicator = Indicator.from_doc(doc)
            except (KeyError, ValueError, TypeError):
                continue
            by_tenant.setdefault(indicator.agency, []).append(indicator)
        segments = []
        size = self.cfg.max_indicators_per_query
        for tenant, indicators in sorted(by_tenant.items(), key=lambda kv: kv[0] or ""):
            for start in range(0, len(indicators), size):
                chunk = indicators[start : start + size]
                query = prefilter(chunk, TYPED_FIELDS)
                if query is None:
                    continue
                if tenant is not None:
                    query = {"bool": {"must": [query], "filter": [{"term": {AGENCY_FIELD: tenant}}]}}
                segments.append(Segment(query, indicator_matches(IndicatorMatcher(chunk), str(job["id"]), arrived)))
        return segments

    async def _rule_segments(self, job: dict[str, Any]) -> list[Segment]:
        rule_id = str(job["rule_id"])
        text = job.get("rule_yaml") or await self._rule_text(rule_id)
        if text is None:
            raise HuntFailed(f"no rule {rule_id}")
        # Watch lists the rule names are expanded as they are now (rules/convert_lists.py).
        lists = await stored_lists(self.client, self.settings.opensearch)
        converted, rejected = await asyncio.to_thread(convert_text, self.settings, text, rule_id, "<pasted>", lists)
        if not converted:
            # A watch list's rejection says what to do about it; the others' reason is enough.
            reasons = "; ".join(r.message if r.reason == "watch list" else r.reason for r in rejected)
            reasons = reasons or "not a detection rule"
            raise HuntFailed(f"not convertible to a query: {reasons}")
        block = rule_block(text, rule_id, converted[0].title)
        retro = RetroInfo(kind="rule", job=str(job["id"]), arrived_at=job.get("arrived_at"))
        should = [
            {
                "query_string": {
                    "query": c.query,
                    "default_field": DEFAULT_FIELD,
                    "allow_leading_wildcard": True,
                    "max_determinized_states": MAX_DETERMINIZED_STATES,
                }
            }
            for c in converted
        ]
        match: Match = (rule_id, block, None, retro)
        return [Segment({"bool": {"should": should, "minimum_should_match": 1}}, lambda _event: [match])]

    async def _rule_text(self, rule_id: str) -> str | None:
        uploaded = {d["id"]: d for d in await rule_docs(self.client, self.settings.opensearch.rules_index)}
        if uploaded.get(rule_id, {}).get("yaml"):
            return str(uploaded[rule_id]["yaml"])
        files = await asyncio.to_thread(file_rule_ids, self.settings)
        if rule_id not in files:
            return None
        return await asyncio.to_thread(Path(files[rule_id]).read_text, encoding="utf-8")

    async def _segment(
        self,
        job: dict[str, Any],
        at: int,
        segments: int,
        segment: Segment,
        resume_from: str | None,
        inventory: Inventory,
        stop: asyncio.Event,
    ) -> tuple[str, dict[str, Any]] | None:
        """Run one segment; (final state, changes) when the job ends in it, else None."""
        bounds = {"gte": resume_from or job["range_start"], "lte": job["range_end"]}
        query = {"bool": {"must": [segment.query], "filter": [{"range": {TIME_FIELD: bounds}}]}}
        events = Index(self.client, events_pattern(self.settings))
        total = await events.count(query)
        pending: dict[str, Pending] = {}
        search_after: list[Any] | None = None
        scanned = 0
        while True:
            if stop.is_set():
                raise JobStopped
            body: dict[str, Any] = {
                "size": self.cfg.page_size,
                "query": query,
                "sort": SORT,
                "timeout": f"{self.cfg.query_timeout_secs}s",
                "track_total_hits": False,
            }
            if search_after is not None:
                body["search_after"] = search_after
            started = time.monotonic()
            hits = (await events.search(body))["hits"]["hits"]
            took = time.monotonic() - started
            matched = 0
            for hit in hits:
                event = hit["_source"]
                found = segment.match(event)
                if not found:
                    continue
                matched += 1
                ts = event_time(event)
                for match in found:
                    alert_id, bucket = stream_alert_id(match[0], event)
                    entry = pending.get(alert_id)
                    if entry is None:
                        entry = pending[alert_id] = Pending(bucket, match, event, ts, ts)
                    entry.add(event, ts)
            scanned += len(hits)
            last_page = len(hits) < self.cfg.page_size
            ending: tuple[str, dict[str, Any]] | None = None
            if hits:
                search_after = hits[-1]["sort"]
            job["events_scanned"] = int(job.get("events_scanned", 0)) + len(hits)
            job["events_matched"] = int(job.get("events_matched", 0)) + matched
            if job["events_scanned"] >= self.cfg.max_events_per_job and not last_page:
                ending = (JobState.DONE.value, {"truncated": "max_events"})
            if int(job.get("alerts_raised", 0)) + len(pending) >= self.cfg.max_alerts_per_job:
                await self._write(job, pending, list(pending), inventory)
                if int(job.get("alerts_raised", 0)) >= self.cfg.max_alerts_per_job:
                    ending = (JobState.DONE.value, {"truncated": "max_alerts"})
            if last_page or ending is not None:
                await self._write(job, pending, list(pending), inventory)
            elif hits:
                passed = event_time(hits[-1]["_source"]).timestamp()
                closed = [k for k, p in pending.items() if p.bucket + WINDOW_SECS <= passed]
                await self._write(job, pending, closed, inventory)
            resume = min((p.bucket for p in pending.values()), default=None)
            cursor = {
                "segment": at,
                "resume_from": iso(datetime.fromtimestamp(resume, UTC))
                if resume is not None
                else (hits[-1]["_source"].get(TIME_FIELD) if hits else resume_from),
            }
            fraction = 1.0 if last_page else min(1.0, scanned / total) if total else 1.0
            progress = {
                "percent": round(100.0 * (at + fraction) / max(segments, 1), 1),
                "segment": at + 1,
                "segments": segments,
                "segment_total": total,
            }
            cancelled = bool((await self._current(job)).get("cancel_requested"))
            await self._update(
                job,
                {
                    "progress": progress,
                    "cursor": cursor,
                    "events_scanned": job["events_scanned"],
                    "events_matched": job["events_matched"],
                    "alerts_raised": job.get("alerts_raised", 0),
                    "alerts_existing": job.get("alerts_existing", 0),
                    "unpublished": job.get("unpublished", []),
                    "lease_until": iso(datetime.now(UTC) + timedelta(seconds=self.cfg.lease_secs)),
                },
            )
            if not cancelled and ending is None and not last_page:
                pause = max(self.cfg.min_pause_secs, took * (1.0 / self.cfg.max_duty_cycle - 1.0))
                cancelled = await self._pause(job, pause, stop)
            if cancelled:
                await self._write(job, pending, list(pending), inventory)
                return JobState.CANCELLED.value, {
                    "alerts_raised": job.get("alerts_raised", 0),
                    "alerts_existing": job.get("alerts_existing", 0),
                }
            if ending is not None:
                return ending
            if last_page:
                return None

    async def _pause(self, job: dict[str, Any], secs: float, stop: asyncio.Event) -> bool:
        """Sleep between pages; True when the job was cancelled meanwhile (looked at every
        `check_interval_secs`, so a long pause never delays a cancel)."""
        deadline = time.monotonic() + secs
        while (left := deadline - time.monotonic()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=min(left, self.cfg.check_interval_secs))
            if stop.is_set():
                return False
            if (await self._current(job)).get("cancel_requested"):
                return True
        return False

    async def _current(self, job: dict[str, Any]) -> dict[str, Any]:
        """The job as stored now; LeaseLost when another runner holds it."""
        current = await self.jobs.get(str(job["id"]))
        if current.get("lease_owner") != self.owner:
            raise LeaseLost
        return current

    async def _write(
        self, job: dict[str, Any], pending: dict[str, Pending], ids: list[str], inventory: Inventory
    ) -> None:
        """Create these alerts (each once: an id already in the index is left as it is), then
        publish the new ones to the alerts topic for the notifier. Their ids are recorded in the
        job's `unpublished` first and leave it once Kafka acknowledged them (or the alert was
        there already, not this job's): an interruption in between leaves them to publish again."""
        if not ids:
            return
        waiting = list(job.get("unpublished") or [])
        new = [alert_id for alert_id in ids if alert_id not in waiting]
        await self._current(job)  # LeaseLost when another runner took the job
        await self._update(job, {"unpublished": [*waiting, *new]})
        index = self.settings.opensearch.alerts_index
        documents = {}
        body: list[dict[str, Any]] = []
        for alert_id in ids:
            document = pending.pop(alert_id).document(alert_id)
            place_alert(document, inventory)
            documents[alert_id] = document
            body += [{"create": {"_index": index, "_id": alert_id}}, document]
        with translated():
            result = await self.client.bulk(body=body)
        created: list[dict[str, Any]] = []
        existing = 0
        heard: set[str] = set()
        for item in result["items"]:
            outcome = item["create"]
            if outcome.get("status") in (200, 201):
                created.append(documents[outcome["_id"]])
            elif outcome.get("status") == 409:
                existing += 1
                if outcome["_id"] in new:  # raised by the stream or another hunt (this job's own are in `waiting`)
                    heard.add(str(outcome["_id"]))
            else:
                raise BackendUnavailable(f"retro alert {outcome['_id']} not written: {outcome.get('error')}")
        job["alerts_raised"] = int(job.get("alerts_raised", 0)) + len(created)
        job["alerts_existing"] = int(job.get("alerts_existing", 0)) + existing
        for document in created:
            if await self.publish(document):
                heard.add(str(document["id"]))
        job["unpublished"] = [alert_id for alert_id in job["unpublished"] if alert_id not in heard]
