"""The collector registry and `build_collectors`, which the runtime calls.

A collector is a small class registered under the name of its config section in
`settings.collectors` (`syslog_tcp`, `http`, …). `validate(settings)` is pure and runs for every
enabled collector before any socket is opened or sink started, so a bad config fails at start-up
as a whole; `build` only constructs. A collector owns its sink: `start()` starts the sink (which
replays its spool) before listening, `stop()` stops listening before draining the sink.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from canhgac.collectors.spool.sink import SpoolingSink
from canhgac.core.config import Settings
from canhgac.core.metrics import Metrics
from canhgac.core.registry import Registry

SinkFactory = Callable[[str], SpoolingSink]


class Collector(Protocol):
    name: str
    port: int | None

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class CollectorType(Protocol):
    @staticmethod
    def enabled(settings: Settings) -> bool: ...

    @staticmethod
    def validate(settings: Settings) -> None: ...

    @classmethod
    def build(cls, settings: Settings, sink_factory: SinkFactory, metrics: Metrics) -> Collector: ...


COLLECTORS: Registry[CollectorType] = Registry("collector")


def load_builtin() -> None:
    """Import every built-in collector module; each registers itself once."""
    from canhgac.collectors import catalog  # noqa: F401


def spool_sink_factory(settings: Settings, metrics: Metrics) -> SinkFactory:
    """One spooling sink per collector, spool under data_dir/spool/<collector name>/."""

    def make(name: str) -> SpoolingSink:
        directory = Path(settings.data_dir) / "spool" / name
        return SpoolingSink(settings.kafka, settings.collectors.spool, directory, metrics, collector=name)

    return make


def build_collectors(settings: Settings, sink_factory: SinkFactory | None, metrics: Metrics) -> list[Collector]:
    load_builtin()
    factory = sink_factory or spool_sink_factory(settings, metrics)
    kinds = [COLLECTORS.get(name) for name in COLLECTORS if COLLECTORS.get(name).enabled(settings)]
    for kind in kinds:
        kind.validate(settings)
    return [kind.build(settings, factory, metrics) for kind in kinds]
