"""RateLimitingQueue: retries paced by a rate limiter on the injected clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from rayservice.queue import ItemExponential, RateLimitingQueue
from rayservice.testing import FakeClock, settle


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def queue(clock: FakeClock) -> AsyncIterator[RateLimitingQueue[str]]:
    limiter = ItemExponential(base_s=1.0, max_s=8.0)
    async with RateLimitingQueue[str](name="retries", clock=clock, rate_limiter=limiter) as queue:
        yield queue


async def advance(clock: FakeClock, seconds: float) -> None:
    clock.step(seconds)
    await settle()


class TestGuarantees:
    async def test_add_rate_limited_adds_the_key_after_the_limiters_delay(
        self, queue: RateLimitingQueue[str], clock: FakeClock
    ) -> None:
        for expected_delay_s in (1.0, 2.0, 4.0, 8.0, 8.0):
            queue.add_rate_limited("k")
            await advance(clock, expected_delay_s - 0.5)
            assert len(queue) == 0
            await advance(clock, 0.5)
            assert await queue.get() == "k"
            queue.done("k")

    async def test_add_rate_limited_keeps_an_earlier_pending_deadline(
        self, queue: RateLimitingQueue[str], clock: FakeClock
    ) -> None:
        queue.add_after("k", 0.5)
        queue.add_rate_limited("k")
        await advance(clock, 0.5)
        assert len(queue) == 1

    async def test_forget_resets_the_backoff_but_keeps_a_pending_retry_scheduled(
        self, queue: RateLimitingQueue[str], clock: FakeClock
    ) -> None:
        queue.add_rate_limited("k")
        queue.add_rate_limited("other")
        queue.forget("k")
        assert queue.num_requeues("k") == 0
        await advance(clock, 1.0)
        assert len(queue) == 2

    async def test_num_requeues_counts_add_rate_limited_calls_since_the_key_was_last_forgotten(
        self, queue: RateLimitingQueue[str]
    ) -> None:
        for _ in range(3):
            queue.add_rate_limited("k")
        assert queue.num_requeues("k") == 3
        queue.forget("k")
        queue.add_rate_limited("k")
        assert queue.num_requeues("k") == 1

    async def test_after_shutdown_add_rate_limited_is_a_no_op_and_leaves_the_limiter_untouched(
        self, queue: RateLimitingQueue[str], clock: FakeClock
    ) -> None:
        queue.add_rate_limited("k")
        queue.shutdown()
        queue.add_rate_limited("k")
        assert queue.num_requeues("k") == 1
        await advance(clock, 10.0)
        assert len(queue) == 0

    async def test_without_a_rate_limiter_the_default_controller_limiter_runs_on_the_queues_clock(
        self, clock: FakeClock
    ) -> None:
        async with RateLimitingQueue[str](clock=clock) as queue:
            for i in range(101):
                queue.add_rate_limited(f"k{i}")
            await advance(clock, 0.005)
            assert len(queue) == 100, "the token bucket holds back the 101st key"
            await advance(clock, 0.095)
            assert len(queue) == 101
            assert queue.num_requeues("k0") == 1


class TestWorkerLoop:
    async def test_a_failing_key_is_retried_with_growing_delays_until_it_succeeds(
        self, queue: RateLimitingQueue[str], clock: FakeClock
    ) -> None:
        attempts_at: list[float] = []
        queue.add("k")
        for attempt in range(4):
            key = await queue.get()
            attempts_at.append(clock.monotonic())
            if attempt == 3:
                queue.forget(key)
                queue.done(key)
                break
            queue.add_rate_limited(key)
            queue.done(key)
            await advance(clock, 2.0**attempt)
        assert attempts_at == [0.0, 1.0, 3.0, 7.0]
        assert queue.num_requeues("k") == 0
        assert len(queue) == 0
