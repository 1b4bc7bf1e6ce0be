"""The parser interface and registry.

A parser turns one raw envelope into one ECS event (a nested dict). It sets `@timestamp` when the
record carries a time, the ECS categories it knows, `canhgac.dataset` and `canhgac.logsource`.
It raises ParseError with a reason it cannot parse; the normalizer then keeps the record as an
event with `event.kind: pipeline_error` and sends a DLQ record. It never raises anything else on
bad input (fuzz tests hold it to that).
The normalizer, not the parser, adds event.id, canhgac.source_id/agency/raw_id, log.original and
event.ingested.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

from canhgac.core.envelope import RawEnvelope
from canhgac.core.event import Event
from canhgac.core.registry import Registry


class Parser(Protocol):
    name: ClassVar[str]

    def parse(self, raw: RawEnvelope) -> Event: ...


parsers: Registry[type[Parser]] = Registry("parser")
