from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

Severity = Literal["informational", "low", "medium", "high", "critical"]


class AlertPage(BaseModel):
    total: int
    items: list[dict[str, Any]]
    next: str | None = None
