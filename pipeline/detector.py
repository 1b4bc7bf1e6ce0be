"""Detector stage: canhgac.events.v1 -> Sigma rules -> canhgac.alerts.v1.

Rules come from the configured folders (and the bundled packs), compiled by canhgac.rules into
stream matchers. Changed rule files are picked up while running; a file that fails to load
keeps its previous version, so a bad edit never unloads working rules.

Every `rules.reload_interval_secs` the detector also reads what analysts changed through the API
(pipeline/rule_config.py): uploaded rules are compiled alongside the files, disabled rules are
left out, and a rule's match on an event one of its exceptions covers is not alerted but counted
(`canhgac_alerts_suppressed_total{reason="exception"}`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer, ConsumerRecord
from canhgac.core.config import KafkaConfig, OpenSearchConfig, PipelineConfig, RulesConfig
from canhgac.core.kafka import make_producer
from canhgac.core.metrics import Metrics
from canhgac.pipeline.alerts import AlertGrouper, alert_from_correlation, parse_ts
from canhgac.pipeline.normalizer import dlq_record_for_event
from canhgac.pipeline.rule_config import RuleConfig, RuleConfigSource
from canhgac.pipeline.stage import Stage, send_all
from canhgac.rules.correlation import CorrelationEngine
from canhgac.rules.engine import Engine
from canhgac.rules.exceptions import ExceptionSet
from canhgac.rules.library import RuleLibrary
from canhgac.rules.loader import FileResult, LoadResult, Rejection, load_text
from canhgac.rules.model import RuleMeta

log = logging.getLogger(__name__)

# Event times further ahead than this are clamped: one bad clock must not push the correlation
# watermark into the future and make every other source's events "late".
MAX_CLOCK_SKEW = timedelta(minutes=5)
ADVANCE_INTERVAL_SECS = 1.0


def rule_paths(cfg: RulesConfig) -> list[Path]:
    paths = [Path(p) for p in cfg.paths]
    if cfg.include_bundled_packs:
        import canhgac.rules as rules_pkg

        paths.insert(0, Path(rules_pkg.__file__).resolve().parent / "packs")
    return paths


def uploaded_path(rule_id: str) -> str:
    """The `path` uploaded rules carry (in alerts, rejections and the rule list)."""
    return f"uploaded:{rule_id}"


def correlation_id(rule: Any) -> str:
    return str(getattr(rule, "id", "") or getattr(rule, "name", "") or "")


def fingerprint(paths: Sequence[Path]) -> tuple[tuple[str, int, int], ...]:
    """Cheap change detection: every rule file's path, mtime and size."""
    seen: list[tuple[str, int, int]] = []
    for root in paths:
        files = [root] if root.is_file() else sorted(root.rglob("*.yml")) + sorted(root.rglob("*.yaml"))
        for f in files:
            try:
                st = f.stat()
            except OSError:
                continue
            seen.append((str(f), st.st_mtime_ns, st.st_size))
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
        alert_window_secs: int = 600,
        data_dir: str | Path = "var",
        opensearch: OpenSearchConfig | None = None,
    ) -> None:
        super().__init__(kafka, pipeline.detector, metrics, retry_backoff_max_secs=pipeline.retry_backoff_max_secs)
        self.rules_cfg = rules
        self.paths = rule_paths(rules)
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
        self._fingerprint: tuple[tuple[str, int, int], ...] | None = None  # None: never loaded
        self._loaded: tuple[Any, str] | None = None  # (file fingerprint, config rules_version)
        self._next_reload_check = 0.0
        self.correlation: CorrelationEngine = CorrelationEngine.from_sigma([])
        self.checkpoint_path = Path(data_dir) / "detector" / "correlation.state"
        self._next_advance = 0.0

    def topics(self) -> list[str]:
        return [self.kafka.topics.events]

    def load(self, *, files: bool = True) -> None:
        """Read the rule files (unless only the API's config changed) and build the rule set."""
        if files or self.file_result is None:
            # Per file: a file that no longer loads keeps its previous rules (and says why).
            if self.library is None:
                self.library = RuleLibrary(self.paths, placeholders=self.rules_cfg.placeholders)
            else:
                self.library.reload_if_changed()
            file_result = self.library.load_result()
            file_result.rejected.extend(r for r in self.library.last_rejected if r not in file_result.rejected)
            self.file_result = file_result
        result = self._combine(self.file_result)
        correlation = CorrelationEngine.from_sigma(result.correlation_rules)
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
        """File rules plus uploaded rules, less the disabled ones."""
        rules = list(files.rules)
        rejected = list(files.rejected)
        correlations = list(files.correlation_rules)
        taken = {r.meta.id for r in rules} | {correlation_id(c) for c in correlations}
        compiled: dict[tuple[str, str], FileResult] = {}
        for rule_id, text in sorted(self.config.uploaded.items()):
            key = (rule_id, text)
            one = self._uploaded.get(key) or load_text(text, uploaded_path(rule_id), self.rules_cfg.placeholders)
            compiled[key] = one
            rejected.extend(one.rejected)
            for rule in one.rules:
                if rule.meta.id in taken:  # the API refuses this; a file added later can cause it
                    rejected.append(
                        Rejection(
                            uploaded_path(rule_id),
                            rule.meta.id,
                            rule.meta.title,
                            "duplicate id",
                            "a rule file has the same id; the file wins",
                        )
                    )
                    continue
                rules.append(rule)
            correlations.extend(c for c in one.correlation_rules if correlation_id(c) not in taken)
        self._uploaded = compiled  # forget removed uploads
        disabled = self.config.disabled
        return LoadResult(
            rules=[r for r in rules if r.meta.id not in disabled],
            rejected=rejected,
            correlation_rules=[c for c in correlations if correlation_id(c) not in disabled],
        )

    def reload_if_changed(self) -> bool:
        current = fingerprint(self.paths)
        version = self.config.rules_version
        if self._loaded == (current, version):
            return False
        previous = (self.engine, self.load_result, self.correlation, self.file_result)
        try:
            self.load(files=current != self._fingerprint)
        except Exception:  # loading must never take the working rule set away
            log.exception("rule reload failed; keeping the previous rule set")
            self.engine, self.load_result, self.correlation, self.file_result = previous
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

    async def start(self) -> None:
        self._restore_checkpoint()
        if self.config_source is not None:
            await self.config_source.start()
            await self.refresh_config()
        self.reload_if_changed()  # a no-op when nothing changed since the last load
        self.producer = make_producer(self.kafka, client_suffix=self.name)
        await self.producer.start()

    async def close(self) -> None:
        if self.config_source is not None:
            await self.config_source.close()
        if self.producer:
            await self.producer.stop()

    async def on_idle(self) -> None:
        await self._maybe_reload()
        # No events flowing: let event time follow the clock so end-of-window conditions fire.
        if self.producer is not None and time.monotonic() >= self._next_advance:
            self._next_advance = time.monotonic() + ADVANCE_INTERVAL_SECS
            closed = self.correlation.advance(datetime.now(UTC) - MAX_CLOCK_SKEW)
            if closed:
                items = [(a.id.encode(), orjson.dumps(alert_from_correlation(a.to_dict(), {}))) for a in closed]
                await send_all(self.producer, self.kafka.topics.alerts, items)
                self._write_checkpoint()

    def _restore_checkpoint(self) -> None:
        try:
            state = self.checkpoint_path.read_bytes()
        except FileNotFoundError:
            return
        try:
            self.correlation.restore(state)
        except Exception:  # a corrupt checkpoint costs open windows, not the detector
            log.exception("correlation checkpoint %s unreadable; starting with empty windows", self.checkpoint_path)

    def _write_checkpoint(self) -> None:
        # Written after the batch's alerts were acknowledged and before its offsets are committed:
        # a crash in between replays the batch into windows that already counted it (at least once).
        self.checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.checkpoint_path.with_suffix(".tmp")
        tmp.write_bytes(self.correlation.checkpoint())
        os.replace(tmp, self.checkpoint_path)

    async def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now >= self._next_reload_check:
            self._next_reload_check = now + self.rules_cfg.reload_interval_secs
            await self.refresh_config()
            self.reload_if_changed()

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

    async def process(self, records: Sequence[ConsumerRecord]) -> None:
        assert self.producer is not None and self.engine is not None
        await self._maybe_reload()
        engine, correlation, exceptions = self.engine, self.correlation, self.config.exceptions
        now = datetime.now(UTC)
        updated: dict[str, dict[str, Any]] = {}
        dead: list[tuple[bytes | None, bytes]] = []
        for record in records:
            try:
                event = orjson.loads(record.value)
            except orjson.JSONDecodeError as exc:
                self.metrics.dlq.labels(self.name, "bad_event").inc()
                dead.append(
                    (
                        record.key,
                        orjson.dumps(dlq_record_for_event(self.name, "bad_event", str(exc), record.value)),
                    )
                )
                continue
            if not isinstance(event, dict):
                continue
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
                updated[alert["id"]] = alert
            if matched:
                ts = min(parse_ts(event.get("@timestamp")), datetime.now(UTC) + MAX_CLOCK_SKEW)
                for found in correlation.observe(event, matched, ts):
                    alert = alert_from_correlation(found.to_dict(), event)
                    if not found.is_update:
                        self.metrics.alerts_raised.labels(alert["severity"]).inc()
                    updated[alert["id"]] = alert
        items = [(a["id"].encode(), orjson.dumps(a, option=orjson.OPT_NON_STR_KEYS)) for a in updated.values()]
        await send_all(self.producer, self.kafka.topics.alerts, items)
        await send_all(self.producer, self.kafka.topics.dlq, dead)
        self.metrics.produced.labels(self.name, self.kafka.topics.alerts).inc(len(items))
        if correlation.stats().events_observed:
            self._write_checkpoint()
