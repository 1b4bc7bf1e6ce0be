"""Login limiting (issue 10, finding 7): per (account, address) and per address with exponential
back-off, bounded memory that a flood of keys cannot use to reset a hot key, and an unlock."""

from __future__ import annotations

import pytest
from canhgac.api.auth.rate_limit import Limits, LoginLimiter
from canhgac.core.errors import RateLimited

ATTACKER, SOC = "203.0.113.9", "10.0.0.5"


def limiter(max_keys: int = 1000, free: int = 5, per_address: int = 20) -> tuple[LoginLimiter, list[float]]:
    now = [1000.0]
    limits = Limits(
        max_failures=free,
        max_failures_per_address=per_address,
        initial_secs=2.0,
        max_secs=900.0,
        window_secs=3600.0,
        max_keys=max_keys,
    )
    return LoginLimiter(limits, clock=lambda: now[0]), now


def test_failures_from_one_address_do_not_lock_the_account_for_another() -> None:
    lim, _ = limiter()
    for _ in range(50):
        lim.failed("admin", ATTACKER)
    with pytest.raises(RateLimited):
        lim.check("admin", ATTACKER)
    lim.check("admin", SOC)  # the admin at the SOC's own address logs in as usual


def test_back_off_doubles_after_the_max_failures_and_is_capped() -> None:
    lim, now = limiter()
    for _ in range(4):
        lim.failed("lan", ATTACKER)
    lim.check("lan", ATTACKER)  # four failures are free
    waits = []
    for _ in range(12):
        lim.failed("lan", ATTACKER)
        with pytest.raises(RateLimited) as err:
            lim.check("lan", ATTACKER)
        waits.append(err.value.retry_after_secs)
        now[0] += err.value.retry_after_secs  # wait it out, then fail again
    assert waits[:5] == [2, 4, 8, 16, 32]
    assert max(waits) == 900 and waits[-1] == 900


def test_one_address_spraying_many_accounts_is_slowed_down() -> None:
    lim, _ = limiter(per_address=20)
    for i in range(20):
        lim.failed(f"user{i}", ATTACKER)  # one failure per account: no pair reaches its allowance
    with pytest.raises(RateLimited):
        lim.check("someone-else", ATTACKER)
    lim.check("someone-else", SOC)


def test_success_clears_the_pair_but_not_the_address() -> None:
    lim, _ = limiter(free=3, per_address=5)
    for _ in range(2):
        lim.failed("lan", SOC)
    lim.succeeded("lan", SOC)
    for _ in range(2):
        lim.failed("lan", SOC)
    lim.check("lan", SOC)  # the pair starts again from zero after the success
    lim.failed("minh", SOC)
    with pytest.raises(RateLimited):  # the address has 5 failures: its own wait starts
        lim.check("minh", SOC)


def test_key_flood_does_not_unlock_a_hot_key() -> None:
    lim, _ = limiter(max_keys=1_000)
    for _ in range(6):
        lim.failed("admin", ATTACKER)
    for i in range(25_000):  # 25 times the table's size; every flood key fails once from its own address
        lim.failed(f"flood{i}", f"198.51.{i // 256 % 256}.{i % 256}")
        if i % 500 == 0:
            with pytest.raises(RateLimited):
                lim.check("admin", ATTACKER)  # the attacker keeps trying: the key stays hot
    assert len(lim) <= 1_000
    with pytest.raises(RateLimited):
        lim.check("admin", ATTACKER)


def test_memory_stays_bounded_and_idle_keys_are_forgotten() -> None:
    lim, now = limiter(max_keys=100)
    for i in range(1000):
        lim.failed(f"u{i}", f"10.1.{i // 256}.{i % 256}")
    assert len(lim) <= 100
    now[0] += 3601
    lim.failed("later", SOC)
    assert len(lim) <= 100


def test_unlock_by_account_by_address_and_both() -> None:
    lim, _ = limiter(free=1, per_address=1)
    lim.failed("admin", ATTACKER)
    lim.failed("admin", SOC)
    assert lim.unlock(account="admin") == 2
    with pytest.raises(RateLimited):
        lim.check("admin", ATTACKER)  # the address itself still waits
    lim.unlock(address=ATTACKER)
    lim.check("admin", ATTACKER)
    lim.failed("lan", SOC)
    lim.unlock(account="lan", address=SOC)
    with pytest.raises(RateLimited):
        lim.check("lan", SOC)  # the address key of SOC remains (two failures there)
    lim.unlock(address=SOC)
    lim.check("lan", SOC)
