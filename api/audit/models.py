from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class AuditPage(BaseModel):
    total: int
    items: list[dict[str, Any]]
    next: str | None = None
