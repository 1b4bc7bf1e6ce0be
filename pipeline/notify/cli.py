"""CLI-ready entry for `canhgac notify test CHANNEL`; the composition root parses the arguments."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

from canhgac.core.errors import NotFound
from canhgac.core.notify_config import NotifyConfig
from canhgac.pipeline.notify.service import NotifierService


async def run_send_test(
    config: NotifyConfig, *, data_dir: str | Path, channel: str, out: TextIO = sys.stdout, **kwargs: Any
) -> int:
    """Send one test message; print the outbox record as JSON. Exit code 0 sent, 1 failed,
    2 unknown channel."""
    service = NotifierService.open(config, data_dir=data_dir, **kwargs)
    try:
        try:
            record = await service.send_test(channel)
        except NotFound as exc:
            print(json.dumps({"error": str(exc)}, ensure_ascii=False), file=out)
            return 2
        print(json.dumps(record.to_dict(), ensure_ascii=False), file=out)
        return 0 if record.status == "sent" else 1
    finally:
        await service.close()
