"""Detector stage: canhgac.events.v1 -> Sigma rules -> canhgac.alerts.v1.

Rules come from the configured folders (and the bundled packs), compiled by canhgac.rules into
stream matchers. Changed rule files are picked up while running; a file that fails to load
keeps its previous version, so a bad edit never unloads working rules.

Every `rules.reload_interval_secs` the detector also reads what analysts changed through the API
(pipeline/rule_config.py): uploaded rules are compiled alongside the files, disabled rules are
left out, and a rule's match on an event one of its exceptions covers is not alerted but counted
(`canhgac_alerts_suppressed_total{reason="exception"}`).

Correlation rules are not counted here: each match a correlation can count is published to the
correlation input topic, keyed by its rule family and group values, and counted by the correlator
stage (pipeline/correlator.py) that owns that key's partition, so N detector replicas raise what
one raises (docs/correlation.md, Scale-out).

Threat intelligence: the same cycle checks the indicator store (pipeline/intel_source.py) and, when
it changed, loads it into a new matcher in the background; every event's addresses, domains, URLs,
hashes, e-mail addresses and user agents are looked up in it (canhgac.rules.intel.matcher), and
each indicator met raises an alert carrying it (canhgac.rules.intel.alerts), grouped as rule
alerts are. An agency's events meet only that agency's and the SOC's indicators.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import KafkaError
from canhgac.core.config import KafkaConfig, OpenSearchConfig, PipelineConfig, RulesConfig
from canhgac.core.errors import BackendUnavailable
from canhgac.core.event import get_path
from canhgac.core.ids import id_time_ms
from canhgac.core.metrics import Metrics
from canhgac.pipeline.alerts import ALERT_WINDOW_SECS, AlertGrouper, agency_of, parse_ts
from canhgac.pipeline.intel_source import IntelSource
from canhgac.pipeline.rule_config import RuleConfigSource
from canhgac.pipeline.stage import Stage
from canhgac.rules.correlation import CorrelationAlert, CorrelationEngine
from canhgac.rules.correlation_routing import Route
from canhgac.rules.engine import Engine
from canhgac.rules.exceptions import ExceptionSet
from canhgac.rules.intel.alerts import IndicatorRule, indicator_info, rule_for
from canhgac.rules.intel.indicators import Indicator
from canhgac.rules.intel.matcher import IndicatorMatcher
from canhgac.rules.library import RuleLibrary
from canhgac.rules.loader import FileResult, LoadResult, Rejection, load_text
from canhgac.rules.model import RuleMeta
from canhgac.rules.rule_cache import rule_cache_for
from canhgac.rules.ruleset import RuleConfig, RuleSet, build_ruleset, rule_paths, uploaded_path

log = logging.getLogger(__name__)

# Event times further ahead than this are clamped: one bad clock must not push the correlation
# watermark into the future and make every other source's events "late".
MAX_CLOCK_SKEW = timedelta(minutes=5)
ADVANCE_INTERVAL_SECS = 1.0


def correlation_inputs(
    routes: Sequence[Route], event: dict[str, Any], matched: Sequence[RuleMeta], ts: datetime, partition: int
) -> list[tuple[bytes | None, bytes]]:
    """One correlation input record per route (docs/correlation.md, Scale-out): the event, the
    rules it matched, the feeds the route counts, its clamped event time and source partition."""
    if not routes:
        return []
    refs = [{"id": str(r.id), "name": r.name, "title": r.title} for r in matched]
    return [
        (
            route.key.encode(),
            orjson.dumps(
                {
                    "event": event,
                    "matched": refs,
                    "feeds": route.feeds,
                    "ts": ts.isoformat(),
                    "partition": partition,
                },
                option=orjson.OPT_NON_STR_KEYS,
            ),
        )
        for route in routes
    ]


RULE_SUFFIXES = (".yml", ".yaml")


def fingerprint(paths: Sequence[Path]) -> tuple[tuple[str, int, int], ...]:
    """Cheap change detection: every rule file's path, mtime and size.

    It runs on the event loop every `reload_interval_secs`: os.walk and plain path strings, because
    pathlib's rglob took 0.07–0.3 s of CPU over the SigmaHQ corpus (3,800 files; 6 % of the detector
    process at 650 events/s), against 0.02 s this way."""
    seen: list[tuple[str, int, int]] = []
    for root in paths:
        if root.is_file():
            files = [str(root)]
        else:
            files = [
                os.path.join(directory, name)
                for directory, _subdirectories, names in os.walk(root)
                for name in names
                if name.endswith(RULE_SUFFIXES)
            ]
            files.sort()
        for path in files:
            try:
                st = os.stat(path)
            except OSError:  # removed meanwhile
                continue
            seen.append((path, st.st_mtime_ns, st.st_size))
    return tuple(seen)


class DetectorStage(Stage):
    name = "detector"

    def __init__(
        self,
        kafka: KafkaConfig,
        pipeline: PipelineConfig,
        rules: RulesConfig,
        metrics: Metrics,
        *,
        alert_window_secs: int = ALERT_WINDOW_SECS,
        data_dir: str | Path = "var",
        opensearch: OpenSearchConfig | None = None,
    ) -> None:
        super().__init__(kafka, pipeline.detector, metrics, retry_backoff_max_secs=pipeline.retry_backoff_max_secs)
        self.rules_cfg = rules
        self.paths = rule_paths(rules)
        self.rule_cache = rule_cache_for(rules, data_dir)
        self.producer: AIOKafkaProducer | None = None
        self.grouper = AlertGrouper(window_secs=alert_window_secs)
        self.engine: Engine | None = None
        self.load_result: LoadResult | None = None
        self.file_result: LoadResult | None = None
        self.library: RuleLibrary | None = None
        # Without OpenSearch settings (unit tests, a rules-only setup) only the files count.
        self.config_source = RuleConfigSource(opensearch, metrics) if opensearch is not None else None
        self.config = RuleConfig()
        self._uploaded: dict[tuple[str, str], FileResult] = {}  # (rule id, yaml) -> compiled
        self._file_rejections: list[Rejection] = []
        self.ruleset: RuleSet | None = None
        self._fingerprint: tuple[tuple[str, int, int], ...] | None = None  # None: never loaded
        self._loaded: tuple[Any, str] | None = None  # (file fingerprint, config rules_version)
        self._next_reload_check = 0.0
        self.correlation: CorrelationEngine = CorrelationEngine.from_sigma(
            [], allowed_lateness_secs=rules.correlation_allowed_lateness_secs
        )
        self._next_advance = 0.0
        self.intel_source = IntelSource(opensearch, metrics) if opensearch is not None else None
        self.intel = IndicatorMatcher([])
        self._intel_task: asyncio.Task[None] | None = None
        self._intel_rules: dict[str, tuple[Indicator, IndicatorRule]] = {}

    def topics(self) -> list[str]:
        return [self.kafka.topics.events]

    def load(self, *, files: bool = True) -> None:
        """Read the rule files (unless only the API's config changed) and build the rule set."""
        if files or self.file_result is None:
            # Per file: a file that no longer loads keeps its previous rules (and says why).
            if self.library is None:
                self.library = RuleLibrary(self.paths, placeholders=self.rules_cfg.placeholders, cache=self.rule_cache)
            else:
                self.library.reload_if_changed()
            self.file_result = self.library.load_result()
            self._file_rejections = list(self.library.last_rejected)
        result = self._combine(self.file_result)
        correlation = CorrelationEngine.from_sigma(
            result.correlation_rules, allowed_lateness_secs=self.rules_cfg.correlation_allowed_lateness_secs
        )
        # Carry open windows over to the new rule set; a changed rule starts empty.
        correlation.restore(self.correlation.checkpoint())
        self.engine = Engine(result.rules)
        self.correlation = correlation
        self.load_result = result
        self.metrics.rules_loaded.set(len(result.rules))
        self.metrics.rules_rejected.set(len(result.rejected))
        for rejection in result.rejected[:20]:
            log.warning("rule rejected: %s (%s): %s", rejection.path, rejection.reason, rejection.message)
        log.info(
            "detector: %d rules loaded (%d uploaded, %d disabled), %d rejected",
            len(result.rules),
            len(self.config.uploaded),
            len(self.config.disabled),
            len(result.rejected),
        )

    def _combine(self, files: LoadResult) -> LoadResult:
        """The rules in service (canhgac.rules.ruleset decides; the API lists the same set)."""
        ruleset = build_ruleset(
            list(files.files.values()), self.config, self._compile_upload, file_rejections=self._file_rejections
        )
        self.ruleset = ruleset
        return LoadResult(rules=ruleset.rules, rejected=ruleset.rejected, correlation_rules=ruleset.correlation_rules)

    def _compile_upload(self, rule_id: str, text: str) -> FileResult:
        """Uploads compile once per (id, text); a removed upload is forgotten on the next rebuild."""
        key = (rule_id, text)
        compiled = self._uploaded.get(key)
        if compiled is None:
            compiled = load_text(text, uploaded_path(rule_id), self.rules_cfg.placeholders)
            self._uploaded = {k: v for k, v in self._uploaded.items() if k[0] in self.config.uploaded}
            self._uploaded[key] = compiled
        return compiled

    def reload_if_changed(self) -> bool:
        current = fingerprint(self.paths)
        version = self.config.rules_version
        if self._loaded == (current, version):
            return False
        previous = (self.engine, self.load_result, self.correlation, self.file_result, self.ruleset)
        try:
            self.load(files=current != self._fingerprint)
        except Exception:  # loading must never take the working rule set away
            log.exception("rule reload failed; keeping the previous rule set")
            self.engine, self.load_result, self.correlation, self.file_result, self.ruleset = previous
            return False
        self._fingerprint = current
        self._loaded = (current, version)
        return True

    async def refresh_config(self) -> None:
        """Read the API's rule config; when OpenSearch is down the last one read stays in force."""
        if self.config_source is not None:
            config = await self.config_source.fetch()
            if config is not None:
                self.config = config

    async def refresh_intel(self) -> None:
        """Swap in the indicator store's current set when it changed (kept when unreadable)."""
        if self.intel_source is not None:
            matcher = await self.intel_source.fetch()
            if matcher is not None:
                self.intel = matcher
                self._intel_rules = {}

    def _refresh_intel_soon(self) -> None:
        """Reading a million indicators takes seconds: done beside the batches, not in their way."""
        if self.intel_source is not None and (self._intel_task is None or self._intel_task.done()):
            self._intel_task = asyncio.create_task(self._refresh_intel_logged())

    async def _refresh_intel_logged(self) -> None:
        try:
            await self.refresh_intel()
        except Exception:  # a failed refresh keeps the current indicators
            log.exception("indicator refresh failed; keeping the current set")

    def _intel_rule(self, indicator: Indicator) -> IndicatorRule:
        cached = self._intel_rules.get(indicator.id)
        if cached is None or cached[0] is not indicator:
            cached = self._intel_rules[indicator.id] = (indicator, rule_for(indicator))
        return cached[1]

    async def start(self) -> None:
        if self.config_source is not None:
            await self.config_source.start()
            await self.refresh_config()
        if self.intel_source is not None:
            await self.intel_source.start()
            await self._refresh_intel_logged()
        self.reload_if_changed()  # a no-op when nothing changed since the last load

    async def close(self) -> None:
        if self._intel_task is not None and not self._intel_task.done():
            self._intel_task.cancel()
        if self.config_source is not None:
            await self.config_source.close()
        if self.intel_source is not None:
            await self.intel_source.close()

    async def on_idle(self) -> None:
        await self._maybe_reload()

    async def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now >= self._next_reload_check:
            self._next_reload_check = now + self.rules_cfg.reload_interval_secs
            await self.refresh_config()
            self.reload_if_changed()
            self._refresh_intel_soon()

    def _not_excepted(
        self, matched: list[RuleMeta], event: dict[str, Any], exceptions: ExceptionSet, now: datetime
    ) -> list[RuleMeta]:
        kept = []
        for rule in matched:
            if exceptions.suppressing(rule.id, event, now) is not None:
                self.metrics.alerts_suppressed.labels("exception").inc()
                continue
            kept.append(rule)
        return kept

    def _not_excepted_correlations(
        self, found: list[CorrelationAlert], event: dict[str, Any], exceptions: ExceptionSet, now: datetime
    ) -> list[CorrelationAlert]:
        """Correlation alerts an analyst's exception on the correlation rule covers are counted, not sent."""
        if not exceptions:
            return found
        kept = []
        for alert in found:
            if exceptions.suppressing_correlation(alert.rule_id, alert.group, event, now) is not None:
                self.metrics.alerts_suppressed.labels("exception").inc()
                continue
            kept.append(alert)
        return kept

    def _observe_latency(self, events: Iterable[dict[str, Any]]) -> None:
        """Event -> alert latency, once the alerts are in Kafka: from the collector receiving the
        event (its raw id's time), else from the event's own @timestamp."""
        now = time.time()
        for event in events:
            raw_id = get_path(event, "canhgac.raw_id")
            received_ms = id_time_ms(raw_id) if isinstance(raw_id, str) else None
            since = received_ms / 1000 if received_ms is not None else parse_ts(event.get("@timestamp")).timestamp()
            self.metrics.event_to_alert_seconds.observe(max(now - since, 0.0))

    async def _send_watermarks(self, newest: dict[int, datetime]) -> None:
        """Every correlator partition hears each source partition's event time, after the batch's
        inputs (Flink-style watermark broadcast): lateness and window closing follow the sources'
        time as one detector saw it, whichever partition a group's matches were routed to."""
        assert self.producer is not None, "stage not started"
        topic = self.kafka.topics.correlation
        value = orjson.dumps({"watermark": {str(p): ts.isoformat() for p, ts in newest.items()}})
        try:
            partitions = sorted(await self.producer.partitions_for(topic))
            sent = [await self.producer.send(topic, value=value, partition=p) for p in partitions]
            await asyncio.gather(*sent)
        except KafkaError as exc:
            raise BackendUnavailable(f"Kafka produce to {topic} failed: {exc}") from exc

    async def process(self, records: Sequence[ConsumerRecord]) -> None:
        assert self.engine is not None
        await self._maybe_reload()
        engine, correlation, exceptions, intel = self.engine, self.correlation, self.config.exceptions, self.intel
        now = datetime.now(UTC)
        now_epoch = now.timestamp()
        updated: dict[str, dict[str, Any]] = {}
        latest: dict[str, dict[str, Any]] = {}  # alert id -> the newest event that raised or updated it
        dead = self.dead_letters()
        routed: list[tuple[bytes | None, bytes]] = []
        newest: dict[int, datetime] = {}  # source partition -> newest matched event time
        read_bytes = 0  # counted once a batch: a labelled inc per event costs a tenth of the byte path
        for record in records:
            # Most events match nothing: the native routes read them from their bytes, and only
            # an event that matched or that the native reader leaves to orjson (None) is decoded
            # (Engine.match_json). The intel lookup reads every event's dict: then decode first.
            matched = None if intel.size else engine.match_json(record.value)
            if matched is not None:
                read_bytes += 1
                if not matched:
                    continue
            try:
                event = orjson.loads(record.value)
            except orjson.JSONDecodeError as exc:
                dead.add(record.key, "bad_event", str(exc), record.value)
                continue
            if not isinstance(event, dict):
                dead.add(record.key, "bad_event", "event is not a JSON object", record.value)
                continue
            if matched is None:
                matched = engine.match(event)
            if matched and exceptions:
                # Excepted matches feed neither alerts nor correlations: the analyst said "not this".
                matched = self._not_excepted(matched, event, exceptions, now)
            for rule in matched:
                if not correlation.emits_own_alerts(rule):
                    continue  # a base rule of a correlation with `generate: false`
                alert = self.grouper.add(rule, event)
                if alert["count"] == 1:
                    self.metrics.alerts_raised.labels(alert["severity"]).inc()
                    # What made the rule fire on its first event, highlighted in the console.
                    conditions = engine.firing_conditions(rule.id, event)
                    alert["matched_fields"] = [c["field"] for c in conditions]
                    alert["matched_conditions"] = conditions
                updated[alert["id"]] = alert
                latest[alert["id"]] = event
            if intel.size:
                for hit in intel.match(event, agency_of(event), now_epoch):
                    alert = self.grouper.add(self._intel_rule(hit.indicator), event, indicator_info(hit))
                    if alert["count"] == 1:
                        self.metrics.alerts_raised.labels(alert["severity"]).inc()
                    updated[alert["id"]] = alert
                    latest[alert["id"]] = event
            if matched:
                # Correlations are counted by the correlator that owns the match's group key.
                ts = min(parse_ts(event.get("@timestamp")), datetime.now(UTC) + MAX_CLOCK_SKEW)
                routed += correlation_inputs(correlation.routes(event, matched), event, matched, ts, record.partition)
                newest[record.partition] = max(ts, newest.get(record.partition, ts))
        self.metrics.detector_reads.labels("bytes").inc(read_bytes)
        self.metrics.detector_reads.labels("decoded").inc(len(records) - read_bytes)
        items = [(a["id"].encode(), orjson.dumps(a, option=orjson.OPT_NON_STR_KEYS)) for a in updated.values()]
        await self.produce(self.kafka.topics.alerts, items)
        await self.produce(self.kafka.topics.correlation, routed)
        if newest and correlation.has_rules:
            await self._send_watermarks(newest)
        self._observe_latency(latest.values())
        await self.produce_dead_letters(dead)
