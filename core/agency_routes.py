"""The agencies' own notification routes, kept on a compacted Kafka topic (`topics.notify_routes`).

Why Kafka rather than an OpenSearch index: the notifier has no OpenSearch principal, and the
topic is what it already reads. The API writes a route as a record keyed `<agency>/<name>` (a
tombstone deletes it) and lists them by reading the topic to its end; every notifier replica
follows the topic and applies the routes as they change, no restart. Compaction keeps the newest
record per key, so the topic is the whole store.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from canhgac.core.config import Component, KafkaConfig
from canhgac.core.errors import BackendUnavailable
from canhgac.core.kafka import make_producer, make_reader
from canhgac.core.notify_config import AgencyRoute
from pydantic import ValidationError

log = logging.getLogger(__name__)

POLL_MS = 500


def apply_record(routes: dict[str, AgencyRoute], key: bytes | None, value: bytes | None) -> None:
    """One record of the topic into `routes` (a tombstone removes; a bad record is skipped)."""
    if key is None:
        return
    name = key.decode(errors="replace")
    if value is None:
        routes.pop(name, None)
        return
    try:
        routes[name] = AgencyRoute.model_validate(orjson.loads(value))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        log.warning("agency route %s ignored: %s", name, exc)


async def _read_to_end(reader: AIOKafkaConsumer, tp: TopicPartition, routes: dict[str, AgencyRoute]) -> None:
    end = (await reader.end_offsets([tp]))[tp]
    while await reader.position(tp) < end:
        fetched = await reader.getmany(tp, timeout_ms=POLL_MS)
        for record in fetched.get(tp, []):
            if record.offset < end:
                apply_record(routes, record.key, record.value)


async def read_routes(kafka: KafkaConfig, *, component: Component) -> dict[str, AgencyRoute]:
    """Every route now (the API's list): the topic read from its start to its end."""
    reader = make_reader(kafka, component=component, client_suffix="agency-routes")
    tp = TopicPartition(kafka.topics.notify_routes, 0)
    routes: dict[str, AgencyRoute] = {}
    try:
        await reader.start()
        reader.assign([tp])
        await reader.seek_to_beginning(tp)
        await _read_to_end(reader, tp, routes)
    except KafkaError as exc:
        raise BackendUnavailable(f"agency routes unreadable: {exc}") from exc
    finally:
        await reader.stop()
    return routes


async def write_route(kafka: KafkaConfig, key: str, route: AgencyRoute | None, *, component: Component) -> None:
    """Store (or, with None, delete) one route; returns once Kafka acknowledged it."""
    producer = make_producer(kafka, component=component, client_suffix="agency-routes")
    try:
        await producer.start()
        value = orjson.dumps(route.model_dump(mode="json")) if route is not None else None
        await producer.send_and_wait(kafka.topics.notify_routes, value, key=key.encode())
    except KafkaError as exc:
        raise BackendUnavailable(f"agency route not saved: {exc}") from exc
    finally:
        await producer.stop()


class RouteFollower:
    """Follows the topic for a long-running process; `on_change` gets every enabled route after the
    first full read and after each change."""

    def __init__(
        self, kafka: KafkaConfig, component: Component, on_change: Callable[[list[AgencyRoute]], None]
    ) -> None:
        self.kafka = kafka
        self.component = component
        self.on_change = on_change
        self.routes: dict[str, AgencyRoute] = {}

    def _changed(self) -> None:
        self.on_change([r for r in self.routes.values() if r.enabled])

    async def run(self, stop: asyncio.Event) -> None:
        tp = TopicPartition(self.kafka.topics.notify_routes, 0)
        while not stop.is_set():
            reader = make_reader(self.kafka, component=self.component, client_suffix="agency-routes-follow")
            try:
                await reader.start()
                reader.assign([tp])
                await reader.seek_to_beginning(tp)
                self.routes = {}
                await _read_to_end(reader, tp, self.routes)
                self._changed()
                while not stop.is_set():
                    fetched = await reader.getmany(tp, timeout_ms=POLL_MS)
                    records = fetched.get(tp, [])
                    for record in records:
                        apply_record(self.routes, record.key, record.value)
                    if records:
                        self._changed()
            except KafkaError as exc:  # keep the routes known so far; read again from the start
                log.warning("agency routes not followed (retrying): %s", exc)
                await asyncio.sleep(5)
            finally:
                await reader.stop()
