"""Every stage, registered by name, and the order `canhgac run` starts them in.

A stage is built from the whole settings (each takes the sections it needs). Like collectors,
parsers and notifiers, it is one registry entry; `ALL_STAGES` is the start order, written here as
data: upstream first, so a one-process run has consumers ready before producers fill topics.
"""

from __future__ import annotations

from collections.abc import Callable

from canhgac.core.config import Settings
from canhgac.core.metrics import Metrics
from canhgac.core.registry import Registry
from canhgac.pipeline.alert_indexer import AlertIndexerStage
from canhgac.pipeline.correlator import CorrelatorStage
from canhgac.pipeline.detector import DetectorStage
from canhgac.pipeline.indexer import IndexerStage
from canhgac.pipeline.normalizer import NormalizerStage
from canhgac.pipeline.notifier import NotifierStage
from canhgac.pipeline.source_health import SourceHealthStage
from canhgac.pipeline.stage import Stage

StageFactory = Callable[[Settings, Metrics], Stage]
STAGES: Registry[StageFactory] = Registry("stage")


@STAGES.register(NormalizerStage.name)
def _normalizer(s: Settings, metrics: Metrics) -> Stage:
    return NormalizerStage(
        s.kafka,
        s.pipeline.normalizer,
        metrics,
        s.sources,
        collectors=s.collectors,
        opensearch=s.opensearch,
        declared_refresh_secs=s.sources_refresh_secs,
        geoip=s.pipeline.geoip,
        lookups=s.pipeline.lookups,
    )


@STAGES.register(IndexerStage.name)
def _indexer(s: Settings, metrics: Metrics) -> Stage:
    return IndexerStage(s.kafka, s.opensearch, s.pipeline, metrics)


@STAGES.register(DetectorStage.name)
def _detector(s: Settings, metrics: Metrics) -> Stage:
    return DetectorStage(s.kafka, s.pipeline, s.rules, metrics, data_dir=s.data_dir, opensearch=s.opensearch)


@STAGES.register(AlertIndexerStage.name)
def _alert_indexer(s: Settings, metrics: Metrics) -> Stage:
    return AlertIndexerStage(s.kafka, s.opensearch, s.pipeline, metrics)


@STAGES.register(SourceHealthStage.name)
def _source_health(s: Settings, metrics: Metrics) -> Stage:
    return SourceHealthStage(
        s.kafka,
        s.opensearch,
        s.pipeline,
        metrics,
        s.sources,
        collectors=s.collectors,
        sources_refresh_secs=s.sources_refresh_secs,
        host_silence=s.host_silence,
    )


@STAGES.register(NotifierStage.name)
def _notifier(s: Settings, metrics: Metrics) -> Stage:
    return NotifierStage(s.kafka, s.pipeline, s.notify, metrics, data_dir=s.data_dir)


@STAGES.register(CorrelatorStage.name)
def _correlator(s: Settings, metrics: Metrics) -> Stage:
    return CorrelatorStage(s.kafka, s.pipeline, s.rules, metrics, data_dir=s.data_dir, opensearch=s.opensearch)


ALL_STAGES: tuple[str, ...] = ("normalizer", "indexer", "detector", "alert-indexer", "source-health", "notifier")
# Stages that run only beside another: the detector's correlation matches are counted by the
# correlator, so running a detector (one process, a replica, a Deployment) runs both, started
# right after it. Operators scale "the detector"; its two consumer groups scale together.
COMPANIONS: dict[str, tuple[str, ...]] = {"detector": ("correlator",)}


def with_companions(names: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for name in names:
        for each in (name, *COMPANIONS.get(name, ())):
            if each not in out:
                out.append(each)
    return tuple(out)


def build_stages(settings: Settings, metrics: Metrics, names: tuple[str, ...] = ALL_STAGES) -> list[Stage]:
    return [STAGES.get(name)(settings, metrics) for name in with_companions(names)]
