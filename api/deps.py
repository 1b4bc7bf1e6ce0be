"""Dependencies the routes receive (Dispatch style: `Annotated` aliases, nothing made at import)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from canhgac.core.config import Settings
from canhgac.core.metrics import Metrics
from fastapi import Depends, Request
from opensearchpy import AsyncOpenSearch


@dataclass
class AppState:
    settings: Settings
    metrics: Metrics
    opensearch: AsyncOpenSearch


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.canhgac
    return state


State = Annotated[AppState, Depends(get_state)]
