"""Rate limiters: how long a key should wait before its next try. Pure: no asyncio, time from a ``Clock``.

Guarantees:
1. ``ItemExponential``: the n-th ``when(key)`` since the key was last forgotten returns
   ``base_s * 2**(n - 1)``, capped at ``max_s``; keys back off independently.
2. ``ItemExponential.forget(key)`` resets the key's backoff; ``num_requeues(key)`` counts ``when(key)``
   calls since then.
3. ``TokenBucket``: every ``when()`` reserves one token and returns how long until that token exists, as
   ``golang.org/x/time/rate``'s ``Reserve`` does: the first ``burst`` calls wait nothing, later ones are
   spaced ``1 / qps`` apart, and idle time refills the bucket up to ``burst``. It ignores keys.
4. ``MaxOf``: ``when()`` asks every limiter (each one counts the try) and returns the longest delay;
   ``forget()`` reaches every limiter; ``num_requeues()`` is the largest count.

Not guaranteed:
- thread safety: limiters are used from one event loop, like the queue that holds them.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol

from rayservice.clock import SYSTEM_CLOCK, Clock


class RateLimiter(Protocol):
    """Decides the delay before a key's next try; owned by ``RateLimitingQueue``."""

    def when(self, key: Hashable) -> float:
        """Record a failure of ``key`` and return the seconds to wait before retrying it."""
        ...

    def forget(self, key: Hashable) -> None:
        """Stop tracking ``key``: it succeeded, or it will not be retried."""
        ...

    def num_requeues(self, key: Hashable) -> int:
        """How many failures of ``key`` are being tracked."""
        ...


class ItemExponential:
    """Per-key exponential backoff: ``base_s``, twice that, four times, ... up to ``max_s``."""

    def __init__(self, *, base_s: float = 0.005, max_s: float = 1000.0) -> None:
        if base_s < 0 or max_s < base_s:
            raise ValueError(f"need 0 <= base_s <= max_s, got base_s={base_s}, max_s={max_s}")
        self.base_s = base_s
        self.max_s = max_s
        self._failures: dict[Hashable, int] = {}

    def when(self, key: Hashable) -> float:
        exponent = self._failures.get(key, 0)
        self._failures[key] = exponent + 1
        try:
            backoff = self.base_s * 2.0**exponent
        except OverflowError:
            return self.max_s
        return min(backoff, self.max_s)

    def forget(self, key: Hashable) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: Hashable) -> int:
        return self._failures.get(key, 0)

    def __repr__(self) -> str:
        return f"ItemExponential(base_s={self.base_s!r}, max_s={self.max_s!r})"


class TokenBucket:
    """A bucket of ``burst`` tokens refilled at ``qps`` per second, shared by all keys."""

    def __init__(self, *, qps: float = 10.0, burst: int = 100, clock: Clock = SYSTEM_CLOCK) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError(f"need qps > 0 and burst >= 1, got qps={qps}, burst={burst}")
        self.qps = qps
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock.monotonic()

    def when(self, key: Hashable) -> float:
        now = self._clock.monotonic()
        refill = max(now - self._last, 0.0) * self.qps
        self._tokens = min(self._tokens + refill, float(self.burst)) - 1.0
        self._last = max(now, self._last)
        return -self._tokens / self.qps if self._tokens < 0 else 0.0

    def forget(self, key: Hashable) -> None:
        pass

    def num_requeues(self, key: Hashable) -> int:
        return 0

    def __repr__(self) -> str:
        return f"TokenBucket(qps={self.qps!r}, burst={self.burst!r})"


class MaxOf:
    """Combines limiters: the longest delay wins."""

    def __init__(self, *limiters: RateLimiter) -> None:
        if not limiters:
            raise ValueError("MaxOf needs at least one limiter")
        self.limiters = limiters

    def when(self, key: Hashable) -> float:
        delays = [limiter.when(key) for limiter in self.limiters]  # every limiter must see the try
        return max(delays)

    def forget(self, key: Hashable) -> None:
        for limiter in self.limiters:
            limiter.forget(key)

    def num_requeues(self, key: Hashable) -> int:
        return max(limiter.num_requeues(key) for limiter in self.limiters)

    def __repr__(self) -> str:
        return f"MaxOf{self.limiters!r}"


def default_controller_rate_limiter(clock: Clock = SYSTEM_CLOCK) -> MaxOf:
    """client-go's controller default: per-key 5 ms .. 1000 s backoff, and 10 tries/s overall, burst 100."""
    return MaxOf(ItemExponential(base_s=0.005, max_s=1000.0), TokenBucket(qps=10.0, burst=100, clock=clock))
