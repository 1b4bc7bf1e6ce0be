"""Failed-login counting per client address and per user name (sliding window, in process).

With several API replicas each counts on its own, so the effective limit is per replica; behind
a load balancer with sticky addresses that is still a hard cap on guessing.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable

from canhgac.core.errors import RateLimited

MAX_KEYS = 100_000


class LoginLimiter:
    def __init__(self, max_failures: int, window_secs: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.window_secs = window_secs
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_secs:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def check(self, keys: Iterable[str]) -> None:
        now = self.clock()
        for key in keys:
            times = self._recent(key, now)
            if len(times) >= self.max_failures:
                wait = max(1, math.ceil(times[0] + self.window_secs - now))
                raise RateLimited("too many failed logins; try again later", retry_after_secs=wait)

    def failed(self, keys: Iterable[str]) -> None:
        now = self.clock()
        if len(self._failures) > MAX_KEYS:  # a flood of distinct names must not exhaust memory
            self._failures.clear()
        for key in keys:
            self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)
