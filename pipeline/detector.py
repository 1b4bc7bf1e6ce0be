"""Detector stage: canhgac.events.v1 -> Sigma rules -> canhgac.alerts.v1.

Rules come from the configured folders (and the bundled packs), compiled by canhgac.rules into
stream matchers. Changed rule files are picked up while running; a file that fails to load
keeps its previous version, so a bad edit never unloads working rules.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer, ConsumerRecord
from canhgac.core.config import KafkaConfig, PipelineConfig, RulesConfig
from canhgac.core.kafka import make_producer
from canhgac.core.metrics import Metrics
from canhgac.pipeline.alerts import AlertGrouper
from canhgac.pipeline.normalizer import dlq_record_for_event
from canhgac.pipeline.stage import Stage, send_all
from canhgac.rules.engine import Engine
from canhgac.rules.loader import LoadResult, load_rules

log = logging.getLogger(__name__)

BUNDLED_PACKS = Path(__file__).resolve().parent.parent / "rules" / "packs"


def rule_paths(cfg: RulesConfig) -> list[Path]:
    paths = [Path(p) for p in cfg.paths]
    if cfg.include_bundled_packs:
        import canhgac.rules as rules_pkg

        paths.insert(0, Path(rules_pkg.__file__).resolve().parent / "packs")
    return paths


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
    ) -> None:
        super().__init__(
            kafka, pipeline.detector, metrics, retry_backoff_max_secs=pipeline.retry_backoff_max_secs
        )
        self.rules_cfg = rules
        self.paths = rule_paths(rules)
        self.producer: AIOKafkaProducer | None = None
        self.grouper = AlertGrouper(window_secs=alert_window_secs)
        self.engine: Engine | None = None
        self.load_result: LoadResult | None = None
        self._fingerprint: tuple[tuple[str, int, int], ...] | None = None  # None: never loaded
        self._next_reload_check = 0.0

    def topics(self) -> list[str]:
        return [self.kafka.topics.events]

    def load(self) -> None:
        result = load_rules(self.paths, placeholders=self.rules_cfg.placeholders)
        self.engine = Engine(result.rules)
        self.load_result = result
        self.metrics.rules_loaded.set(len(result.rules))
        self.metrics.rules_rejected.set(len(result.rejected))
        for rejection in result.rejected[:20]:
            log.warning("rule rejected: %s (%s): %s", rejection.path, rejection.reason, rejection.message)
        log.info("detector: %d rules loaded, %d rejected", len(result.rules), len(result.rejected))

    def reload_if_changed(self) -> bool:
        current = fingerprint(self.paths)
        if current == self._fingerprint:
            return False
        previous = (self.engine, self.load_result)
        try:
            self.load()
        except Exception:  # loading must never take the working rule set away
            log.exception("rule reload failed; keeping the previous rule set")
            self.engine, self.load_result = previous
            return False
        self._fingerprint = current
        return True

    async def start(self) -> None:
        if self.engine is None:
            self.reload_if_changed()
        self.producer = make_producer(self.kafka, client_suffix=self.name)
        await self.producer.start()

    async def close(self) -> None:
        if self.producer:
            await self.producer.stop()

    async def on_idle(self) -> None:
        self._maybe_reload()

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now >= self._next_reload_check:
            self._next_reload_check = now + self.rules_cfg.reload_interval_secs
            self.reload_if_changed()

    async def process(self, records: Sequence[ConsumerRecord]) -> None:
        assert self.producer is not None and self.engine is not None
        self._maybe_reload()
        engine = self.engine
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
            for rule in engine.match(event):
                alert = self.grouper.add(rule, event)
                if alert["count"] == 1:
                    self.metrics.alerts_raised.labels(alert["severity"]).inc()
                updated[alert["id"]] = alert
        items = [
            (a["id"].encode(), orjson.dumps(a, option=orjson.OPT_NON_STR_KEYS)) for a in updated.values()
        ]
        await send_all(self.producer, self.kafka.topics.alerts, items)
        await send_all(self.producer, self.kafka.topics.dlq, dead)
        self.metrics.produced.labels(self.name, self.kafka.topics.alerts).inc(len(items))
