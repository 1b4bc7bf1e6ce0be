"""Unlocks of the login limiter, recorded in OpenSearch so every API replica honours them and the
command line (`canhgac users unlock`, which has no access to an API process's memory) can give one.

One document per target, replaced by each new unlock: `account:<name>`, `address:<ip>` or
`pair:<name>|<ip>`, holding `at` (epoch seconds). A replica that is about to refuse a login reads
the (at most three) documents that could apply, by id, and lifts the waits that began before them.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from canhgac.api.auth.rate_limit import LoginLimiter
from canhgac.core.config import OpenSearchConfig
from canhgac.core.index import Index
from opensearchpy import AsyncOpenSearch


def unlocks_index(cfg: OpenSearchConfig) -> str:
    return f"{cfg.config_index_prefix}-login-unlocks"


def _doc_id(account: str | None, address: str | None) -> str:
    if account is not None and address is not None:
        return f"pair:{account}|{address}"
    if account is not None:
        return f"account:{account}"
    return f"address:{address}"


async def record_unlock(
    client: AsyncOpenSearch, index: str, *, account: str | None, address: str | None, by: str
) -> None:
    if account is None and address is None:
        raise ValueError("name an account, an address or both")
    now = time.time()
    body = {
        "account": account,
        "address": address,
        "at": now,
        "at_iso": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "by": by,
    }
    await Index(client, index).put(_doc_id(account, address), body, refresh="wait_for")


async def apply_recorded_unlocks(
    client: AsyncOpenSearch, index: str, limiter: LoginLimiter, account: str, address: str
) -> bool:
    """Lift this login's waits that an admin unlocked after they began; True when any was lifted."""
    ids = [_doc_id(account, None), _doc_id(None, address), _doc_id(account, address)]
    lifted = 0
    for src in await Index(client, index).get_many(ids):
        at = float(src.get("at") or 0)
        lifted += limiter.unlock(account=src.get("account"), address=src.get("address"), failed_before=at)
    return lifted > 0
