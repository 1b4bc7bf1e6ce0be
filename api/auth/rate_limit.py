"""Login limiting that slows guessing without letting an outsider lock the SOC out.

Failures are counted per (account, address) and per address, never per account alone: guessing
the admin's password from one address slows that address down, while the admin logging in from
the SOC's own address is not affected. Past a free allowance each further failure doubles the
wait (`initial`, 2×, 4× … up to `max`); a success clears that account's count at that address.
Counts are forgotten `window_secs` after the last failure once any wait has ended.

Memory is bounded by `max_keys`, and flooding it with new keys cannot reset a key that matters:
when the table is full the entry evicted is the least important one found among the least
recently failed — a key whose wait has ended before a key still waiting, fewer failures before
more, and among waiting keys the one whose wait ends first. A key an attacker keeps failing on is
always the most recently used, so it is never the one evicted.

In process: with several API replicas each limits on its own (a hard cap per replica). An admin
lifts a wait with `POST /api/v1/auth/unlock` or `canhgac users unlock`; both also record the
unlock in OpenSearch (api/auth/unlocks.py) so every replica honours it.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from canhgac.core.errors import RateLimited

EVICTION_SCAN = 64  # how many of the least recently failed entries are weighed on eviction


@dataclass(slots=True)
class _Entry:
    failures: int
    last_failure: float
    locked_until: float


@dataclass(frozen=True, slots=True)
class Limits:
    max_failures: int  # per (account, address): this many failures start the waiting
    max_failures_per_address: int
    initial_secs: float
    max_secs: float
    window_secs: float
    max_keys: int


def pair_key(account: str, address: str) -> str:
    return f"pair:{account}\x00{address}"


def address_key(address: str) -> str:
    return f"addr:{address}"


class LoginLimiter:
    def __init__(self, limits: Limits, clock: Callable[[], float] = time.time) -> None:
        self.limits = limits
        self.clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()  # least recently failed first

    def __len__(self) -> int:
        return len(self._entries)

    def _live(self, key: str, now: float) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and self._stale(entry, now):
            del self._entries[key]
            return None
        return entry

    def _stale(self, entry: _Entry, now: float) -> bool:
        return entry.locked_until <= now and now - entry.last_failure > self.limits.window_secs

    def check(self, account: str, address: str) -> None:
        """RateLimited (with Retry-After) while this account at this address, or this address, waits."""
        now = self.clock()
        until = 0.0
        for key in (pair_key(account, address), address_key(address)):
            entry = self._live(key, now)
            if entry is not None and entry.locked_until > now:
                until = max(until, entry.locked_until)
                self._entries.move_to_end(key)  # a key being hammered stays the most recently used
        if until > now:
            raise RateLimited(
                "too many failed logins; try again later", retry_after_secs=max(1, math.ceil(until - now))
            )

    def failed(self, account: str, address: str) -> None:
        now = self.clock()
        self._fail(pair_key(account, address), self.limits.max_failures, now)
        self._fail(address_key(address), self.limits.max_failures_per_address, now)

    def _fail(self, key: str, free: int, now: float) -> None:
        entry = self._live(key, now)
        if entry is None:
            self._make_room(now)
            entry = _Entry(failures=0, last_failure=now, locked_until=0.0)
            self._entries[key] = entry
        entry.failures += 1
        entry.last_failure = now
        if entry.failures >= free:
            wait = min(self.limits.initial_secs * 2 ** (entry.failures - free), self.limits.max_secs)
            entry.locked_until = max(entry.locked_until, now + wait)
        self._entries.move_to_end(key)

    def _make_room(self, now: float) -> None:
        while len(self._entries) >= self.limits.max_keys:
            oldest_key, oldest = next(iter(self._entries.items()))
            if self._stale(oldest, now):
                del self._entries[oldest_key]
                continue
            candidates = []
            for i, (key, entry) in enumerate(self._entries.items()):
                if i >= EVICTION_SCAN:
                    break
                waiting = entry.locked_until > now
                candidates.append(((waiting, entry.locked_until if waiting else entry.failures, i), key))
            del self._entries[min(candidates)[1]]

    def succeeded(self, account: str, address: str) -> None:
        """The right password clears that account's count at that address (not the address's own:
        one valid account must not let an address guess others' passwords for free)."""
        self._entries.pop(pair_key(account, address), None)

    def unlock(
        self, *, account: str | None = None, address: str | None = None, failed_before: float | None = None
    ) -> int:
        """Lift waits and counts: an account (at every address), an address (and every account at
        it), or one account at one address; with `failed_before`, only entries whose last failure
        came no later (an unlock recorded elsewhere does not forgive what followed it). Returns how
        many entries were removed."""
        if account is None and address is None:
            raise ValueError("name an account, an address or both")
        if account is not None and address is not None:
            doomed = [pair_key(account, address)]
        elif account is not None:
            prefix = f"pair:{account}\x00"
            doomed = [k for k in self._entries if k.startswith(prefix)]
        else:
            suffix = f"\x00{address}"
            doomed = [k for k in self._entries if k.startswith("pair:") and k.endswith(suffix)]
            doomed.append(address_key(address or ""))
        removed = 0
        for key in doomed:
            entry = self._entries.get(key)
            if entry is not None and (failed_before is None or entry.last_failure <= failed_before):
                del self._entries[key]
                removed += 1
        return removed
