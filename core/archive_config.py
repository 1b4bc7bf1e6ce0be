"""Settings of the archive tier (core/archive.py): one OpenSearch snapshot per day of that day's
events, taken on a schedule by the retention component, kept up to a count, restored on demand.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

_REPOSITORY = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
_DATASET = re.compile(r"[a-z0-9][a-z0-9._]{0,99}")
_TIME_OF_DAY = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


class ArchiveConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Off by default: the repository must exist first (`canhgac archive setup`, with the node's
    # path.repo set), and a deployment decides where its archive goes.
    enabled: bool = False
    # The snapshot repository (type fs) and its location: relative to the node's path.repo, or an
    # absolute path under it. `canhgac archive setup` registers it.
    repository: str = "canhgac-archive"
    location: str = "canhgac-archive"
    # The local time (settings' `timezone`) after which the previous day is archived. After the
    # receipts' grace hour, so events that arrive late in the night are in.
    run_at_local: str = "02:00"
    # Days before yesterday checked too: a day missed while the component was down is archived
    # at the next round (while its events are still stored).
    lookback_days: int = Field(default=3, ge=0, le=60)
    # Which event data streams: their datasets (`linux.auth`, `windows.security`, …); empty: all.
    datasets: tuple[str, ...] = ()
    # Snapshots kept (one per day); older ones are deleted after each new one.
    keep_snapshots: int = Field(default=400, ge=1, le=10_000)
    check_interval_secs: float = Field(default=600.0, gt=0)
    # One day's copy (server-side reindex) and snapshot may take long on a big day.
    request_timeout_secs: float = Field(default=3600.0, gt=0)

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not _REPOSITORY.fullmatch(value):
            raise ValueError("repository: lower-case letters, digits, '.', '_' and '-'")
        return value

    @field_validator("run_at_local")
    @classmethod
    def _time(cls, value: str) -> str:
        if not _TIME_OF_DAY.fullmatch(value):
            raise ValueError("run_at_local: HH:MM, 00:00 to 23:59")
        return value

    @field_validator("datasets")
    @classmethod
    def _datasets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [d for d in value if not _DATASET.fullmatch(d)]
        if bad:
            raise ValueError(f"datasets: not a dataset name: {bad}")
        return value
