"""The client-side token bucket (rayservice.kube.ratelimit), stepped on a FakeClock."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rayservice.kube import TokenBucket
from rayservice.testing import FakeClock, settle


def test_a_full_bucket_lets_a_burst_through_without_waiting() -> None:
    bucket = TokenBucket(qps=10, burst=5, clock=FakeClock())
    assert [bucket.reserve() for _ in range(5)] == [0.0] * 5


def test_after_the_burst_requests_are_spaced_one_over_qps_apart_in_order() -> None:
    bucket = TokenBucket(qps=10, burst=2, clock=FakeClock())
    delays = [bucket.reserve() for _ in range(5)]
    assert delays[:2] == [0.0, 0.0]
    assert delays[2:] == pytest.approx([0.1, 0.2, 0.3])


def test_tokens_refill_with_time_but_never_beyond_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=10, burst=3, clock=clock)
    for _ in range(3):
        bucket.reserve()
    clock.step(100.0)
    assert [bucket.reserve() for _ in range(3)] == [0.0] * 3
    assert bucket.reserve() == pytest.approx(0.1)


@given(
    qps=st.floats(min_value=0.5, max_value=200),
    burst=st.integers(min_value=1, max_value=50),
    gaps=st.lists(st.floats(min_value=0, max_value=0.5), min_size=1, max_size=200),
)
def test_no_window_admits_more_than_burst_plus_qps_times_its_length(qps: float, burst: int, gaps: list[float]) -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=qps, burst=burst, clock=clock)
    admitted: list[float] = []
    for gap in gaps:
        clock.step(gap)
        admitted.append(clock.monotonic() + bucket.reserve())
    for i, start in enumerate(admitted):
        for j in range(i, len(admitted)):
            window = admitted[j] - start
            assert j - i + 1 <= burst + qps * window + 1e-6


async def test_waiters_sleep_on_the_injected_clock_until_their_token_is_due() -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=2, burst=1, clock=clock)
    done: list[int] = []

    async def request(n: int) -> None:
        await bucket.wait()
        done.append(n)

    tasks = [asyncio.create_task(request(n)) for n in range(3)]
    await settle()
    assert done == [0]
    clock.step(0.5)
    await settle()
    assert done == [0, 1]
    clock.step(0.5)
    await settle()
    assert done == [0, 1, 2]
    await asyncio.gather(*tasks)


def test_a_bucket_refuses_settings_that_would_block_forever() -> None:
    with pytest.raises(ValueError, match="qps"):
        TokenBucket(qps=0)
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(burst=0)
