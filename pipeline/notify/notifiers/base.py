"""The notifier interface, its registry, and HTTP failure classification shared by HTTP channels."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import httpx
import orjson
from canhgac.core.registry import Registry
from canhgac.pipeline.notify.errors import DeliveryError
from canhgac.pipeline.notify.message import Message
from pydantic import BaseModel


@dataclass(frozen=True)
class Delivery:
    """What a channel needs besides the message: the key a receiver dedupes on, and the time."""

    idempotency_key: str
    attempt: int
    at: datetime


class Notifier(ABC):
    """One channel instance (`email-soc`, `tg-oncall` …). `send` returns when the channel took
    the message and raises DeliveryError (retriable or not) otherwise."""

    config_type: ClassVar[type[BaseModel]]

    def __init__(self, name: str, config: Any, *, environ: Mapping[str, str], http: httpx.AsyncClient):
        self.name = name
        self.config = config
        self._http = http

    @abstractmethod
    def build_request(self, message: Message, delivery: Delivery) -> Any:
        """The exact payload sent (tests compare it to golden files)."""

    @abstractmethod
    async def send(self, message: Message, delivery: Delivery) -> None: ...

    async def aclose(self) -> None:
        """Channels holding no connection of their own have nothing to close."""


notifiers: Registry[type[Notifier]] = Registry("notifier")


def dumps(payload: Any) -> bytes:
    return orjson.dumps(payload)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def classify_response(response: httpx.Response, where: str) -> None:
    """2xx is success; 429 and 5xx can succeed later; every other status will not."""
    status = response.status_code
    if 200 <= status < 300:
        return
    detail = response.text[:200].strip()
    message = f"HTTP {status}" + (f": {detail}" if detail else "")
    retriable = status == 429 or status >= 500
    raise DeliveryError(message, retriable=retriable, retry_after_secs=_retry_after(response), where=where)


async def post(
    http: httpx.AsyncClient,
    url: str,
    *,
    body: bytes,
    headers: Mapping[str, str],
    timeout_secs: float,
    where: str,
) -> httpx.Response:
    try:
        response = await http.post(
            url, content=body, headers={"Content-Type": "application/json", **headers}, timeout=timeout_secs
        )
    except httpx.TimeoutException as exc:
        raise DeliveryError(
            f"timeout after {timeout_secs:g}s ({type(exc).__name__})", retriable=True, where=where
        ) from exc
    except httpx.ConnectError as exc:
        raise DeliveryError(f"cannot connect: {exc}", retriable=True, where=where) from exc
    except httpx.TransportError as exc:
        raise DeliveryError(f"transport error: {exc!r}", retriable=True, where=where) from exc
    classify_response(response, where)
    return response
