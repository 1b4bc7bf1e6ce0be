from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from canhgac.api.auth.rate_limit import Limits, LoginLimiter
from canhgac.api.query_guard import check_lucene, histogram_interval
from canhgac.core.errors import InvalidRequest, RateLimited


@pytest.mark.parametrize(
    "query",
    [
        "message:foo*",
        "host.name:web*",
        '"*quoted*"',
        "field:*",
        "a:/ab.*c/",
        "_exists_:user.name",
        "status:[200 TO 300]",
        "x:(a OR b*)",
    ],
)
def test_cheap_queries_pass(query: str) -> None:
    check_lucene(query, 4096)


@pytest.mark.parametrize(
    "query",
    [
        "*admin",
        "message:*admin",
        "a:?dmin",
        "a:/.*foo/",
        "x:(*a)",
        "NOT *foo",
        "a:/" + "x" * 200 + "/",
        " ".join(f"a{i}*" for i in range(12)),
    ],
)
def test_expensive_queries_are_refused(query: str) -> None:
    with pytest.raises(InvalidRequest):
        check_lucene(query, 4096)


def test_histogram_interval_caps_buckets() -> None:
    end = datetime(2026, 1, 2, tzinfo=UTC)
    assert histogram_interval(end - timedelta(days=1), end, 500, None) == 1800
    with pytest.raises(InvalidRequest):
        histogram_interval(end - timedelta(days=1), end, 500, 1)


def test_login_limiter_window() -> None:
    now = [0.0]
    limits = Limits(
        max_failures=2, max_failures_per_address=20, initial_secs=60, max_secs=600, window_secs=60, max_keys=100
    )
    limiter = LoginLimiter(limits, clock=lambda: now[0])
    limiter.failed("lan", "10.0.0.1")
    limiter.check("lan", "10.0.0.1")
    limiter.failed("lan", "10.0.0.1")
    with pytest.raises(RateLimited) as err:
        limiter.check("lan", "10.0.0.1")
    assert err.value.retry_after_secs == 60
    now[0] = 61
    limiter.check("lan", "10.0.0.1")
    now[0] = 122  # the wait is over and the window has passed: the count is forgotten
    limiter.failed("lan", "10.0.0.1")
    limiter.check("lan", "10.0.0.1")
