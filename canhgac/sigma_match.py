"""Run an engine over event files (the `canhgac sigma match` command and the benchmark).

It lives with the command line, not in canhgac.rules, because reading `evtx-json` needs the
Windows parser of the normalizer: the rules package imports only core."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from canhgac.core.errors import ParseError
from canhgac.core.event import Event
from canhgac.pipeline.normalize.windows import from_evtx_json
from canhgac.rules.engine import Engine
from canhgac.rules.model import RuleMeta


def _ecs(obj: Any) -> Event:
    if not isinstance(obj, dict):
        raise ParseError("event is not a JSON object")
    return obj


def _evtx(obj: Any) -> Event:
    return from_evtx_json(obj)


INPUT_FORMATS: dict[str, Callable[[Any], Event]] = {"ecs-ndjson": _ecs, "evtx-json": _evtx}


@dataclass(slots=True)
class MatchStats:
    events: int = 0
    unreadable: int = 0
    matches: int = 0


def read_events(path: str, to_event: Callable[[Any], Event], stats: MatchStats) -> Iterator[tuple[int, Event]]:
    """(line index, event) for every readable line; unreadable lines are counted, not fatal."""
    with open(path, "rb") as handle:
        for index, line in enumerate(handle):
            if not line.strip():
                continue
            try:
                event = to_event(orjson.loads(line))
            except (orjson.JSONDecodeError, ParseError):
                stats.unreadable += 1
                continue
            stats.events += 1
            yield index, event


def match_files(
    engine: Engine, paths: list[str], input_format: str, stats: MatchStats
) -> Iterator[tuple[str, int, list[RuleMeta]]]:
    to_event = INPUT_FORMATS[input_format]
    for path in paths:
        for index, event in read_events(path, to_event, stats):
            metas = engine.match(event)
            if metas:
                stats.matches += len(metas)
                yield path, index, metas
