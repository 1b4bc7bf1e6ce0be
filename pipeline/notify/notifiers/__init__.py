"""Channels: one small class and config model each, registered by `type` in `notifiers`."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

# The catalog imports every channel module (each registers itself); the completeness test checks
# every config type has one.
from canhgac.pipeline.notify.notifiers import catalog  # noqa: F401
from canhgac.pipeline.notify.notifiers.base import Delivery, Notifier, notifiers

__all__ = ["Delivery", "Notifier", "build_notifiers", "notifiers"]


def build_notifiers(
    channels: Mapping[str, object], *, environ: Mapping[str, str], http: httpx.AsyncClient
) -> dict[str, Notifier]:
    built: dict[str, Notifier] = {}
    for name, config in channels.items():
        cls = notifiers.get(getattr(config, "type"))  # noqa: B009
        built[name] = cls(name, config, environ=environ, http=http)
    return built
