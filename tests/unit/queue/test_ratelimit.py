"""The pure rate limiters: per-key exponential backoff, a token bucket, and their maximum."""

from __future__ import annotations

from collections.abc import Hashable

import pytest

from rayservice.queue import ItemExponential, MaxOf, RateLimiter, TokenBucket, default_controller_rate_limiter
from rayservice.testing import FakeClock


class TestItemExponential:
    def test_nth_try_waits_base_times_two_to_the_n_minus_one_capped_at_max(self) -> None:
        limiter = ItemExponential(base_s=0.005, max_s=0.1)
        assert [limiter.when("k") for _ in range(7)] == [0.005, 0.01, 0.02, 0.04, 0.08, 0.1, 0.1]

    def test_keys_back_off_independently(self) -> None:
        limiter = ItemExponential(base_s=1.0, max_s=100.0)
        limiter.when("a")
        limiter.when("a")
        assert limiter.when("b") == 1.0
        assert limiter.when("a") == 4.0

    def test_forget_resets_the_backoff(self) -> None:
        limiter = ItemExponential(base_s=1.0, max_s=100.0)
        for _ in range(3):
            limiter.when("k")
        limiter.forget("k")
        limiter.forget("never-seen")
        assert limiter.num_requeues("k") == 0
        assert limiter.when("k") == 1.0

    def test_num_requeues_counts_tries_since_forget(self) -> None:
        limiter = ItemExponential()
        for _ in range(4):
            limiter.when("k")
        assert limiter.num_requeues("k") == 4
        assert limiter.num_requeues("other") == 0

    def test_thousands_of_failures_stay_at_the_cap(self) -> None:
        limiter = ItemExponential(base_s=0.005, max_s=1000.0)
        delays = [limiter.when("k") for _ in range(3000)]
        assert delays[-1] == 1000.0
        assert max(delays) == 1000.0

    def test_defaults_are_five_milliseconds_to_a_thousand_seconds(self) -> None:
        limiter = ItemExponential()
        assert (limiter.base_s, limiter.max_s) == (0.005, 1000.0)

    @pytest.mark.parametrize(("base_s", "max_s"), [(-1.0, 1.0), (2.0, 1.0)])
    def test_nonsense_bounds_are_rejected(self, base_s: float, max_s: float) -> None:
        with pytest.raises(ValueError, match="base_s"):
            ItemExponential(base_s=base_s, max_s=max_s)


class TestTokenBucket:
    def test_first_burst_tries_wait_nothing(self) -> None:
        bucket = TokenBucket(qps=10.0, burst=100, clock=FakeClock())
        assert {bucket.when(f"k{i}") for i in range(100)} == {0.0}

    def test_after_the_burst_each_try_reserves_the_next_token_one_over_qps_later(self) -> None:
        bucket = TokenBucket(qps=10.0, burst=2, clock=FakeClock())
        delays = [bucket.when("k") for _ in range(5)]
        assert delays == pytest.approx([0.0, 0.0, 0.1, 0.2, 0.3])

    def test_idle_time_refills_the_bucket_up_to_burst(self) -> None:
        clock = FakeClock()
        bucket = TokenBucket(qps=10.0, burst=3, clock=clock)
        for _ in range(3):
            bucket.when("k")
        clock.step(0.2)
        assert [bucket.when("k") for _ in range(3)] == pytest.approx([0.0, 0.0, 0.1])
        clock.step(3600.0)
        assert [bucket.when("k") for _ in range(4)] == pytest.approx([0.0, 0.0, 0.0, 0.1])

    def test_reserved_tokens_are_paid_back_before_new_ones_accrue(self) -> None:
        clock = FakeClock()
        bucket = TokenBucket(qps=1.0, burst=1, clock=clock)
        assert [bucket.when("k") for _ in range(3)] == pytest.approx([0.0, 1.0, 2.0])
        clock.step(1.0)
        assert bucket.when("k") == pytest.approx(2.0)

    def test_ignores_keys(self) -> None:
        bucket = TokenBucket(qps=1.0, burst=1, clock=FakeClock())
        bucket.when("a")
        bucket.forget("a")
        assert bucket.when("b") == pytest.approx(1.0)
        assert bucket.num_requeues("a") == 0

    @pytest.mark.parametrize(("qps", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0)])
    def test_nonsense_rates_are_rejected(self, qps: float, burst: int) -> None:
        with pytest.raises(ValueError, match="qps"):
            TokenBucket(qps=qps, burst=burst, clock=FakeClock())


class CountingLimiter:
    def __init__(self, delay_s: float, requeues: int) -> None:
        self.delay_s = delay_s
        self.requeues = requeues
        self.whens: list[Hashable] = []
        self.forgotten: list[Hashable] = []

    def when(self, key: Hashable) -> float:
        self.whens.append(key)
        return self.delay_s

    def forget(self, key: Hashable) -> None:
        self.forgotten.append(key)

    def num_requeues(self, key: Hashable) -> int:
        return self.requeues


class TestMaxOf:
    def test_returns_the_longest_delay(self) -> None:
        limiter = MaxOf(CountingLimiter(1.0, 0), CountingLimiter(3.0, 0), CountingLimiter(2.0, 0))
        assert limiter.when("k") == 3.0

    def test_every_limiter_sees_every_try_and_every_forget(self) -> None:
        parts = [CountingLimiter(5.0, 0), CountingLimiter(1.0, 0)]
        limiter = MaxOf(*parts)
        limiter.when("k")
        limiter.forget("k")
        assert [(part.whens, part.forgotten) for part in parts] == [(["k"], ["k"]), (["k"], ["k"])]

    def test_num_requeues_is_the_largest_count(self) -> None:
        assert MaxOf(CountingLimiter(0.0, 2), CountingLimiter(0.0, 7)).num_requeues("k") == 7

    def test_needs_at_least_one_limiter(self) -> None:
        with pytest.raises(ValueError, match="at least one"):
            MaxOf()


class TestDefaultControllerRateLimiter:
    def test_is_five_millisecond_exponential_backoff_per_key(self) -> None:
        limiter = default_controller_rate_limiter(FakeClock())
        assert [limiter.when("k") for _ in range(3)] == [0.005, 0.01, 0.02]
        limiter.forget("k")
        assert limiter.num_requeues("k") == 0

    def test_is_ten_tries_a_second_overall_after_a_burst_of_a_hundred(self) -> None:
        limiter = default_controller_rate_limiter(FakeClock())
        first = [limiter.when(f"k{i}") for i in range(100)]
        assert set(first) == {0.005}
        assert limiter.when("k100") == pytest.approx(0.1)
        assert limiter.when("k101") == pytest.approx(0.2)

    def test_limiters_satisfy_the_protocol(self) -> None:
        limiters: list[RateLimiter] = [
            ItemExponential(),
            TokenBucket(clock=FakeClock()),
            MaxOf(ItemExponential()),
            default_controller_rate_limiter(),
        ]
        assert "ItemExponential(base_s=0.005, max_s=1000.0)" in repr(limiters[2])
        assert repr(limiters[1]) == "TokenBucket(qps=10.0, burst=100)"
