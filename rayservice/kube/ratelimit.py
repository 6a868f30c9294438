"""The client-side request rate limit: a token bucket on an injected clock.

Guarantees:
1. A full bucket lets ``burst`` requests through at once; after that, requests are spaced ``1/qps``
   seconds apart on average, and no window of ``t`` seconds admits more than ``burst + qps * t``.
2. Waiters are served in the order they asked: each ``reserve()`` takes its token at once (the bucket
   may go negative) and returns how long to wait for it, so a late caller never overtakes an earlier one.
3. Time comes only from the injected ``Clock``; ``reserve`` is pure bookkeeping and never sleeps.

Not guaranteed:
- that a cancelled ``wait()`` gives its token back (as with client-go's limiter, it is spent).
"""

from __future__ import annotations

from rayservice.clock import SYSTEM_CLOCK, Clock


class TokenBucket:
    """``qps`` tokens per second, at most ``burst`` saved up; one token per request."""

    def __init__(self, *, qps: float = 50.0, burst: int = 100, clock: Clock = SYSTEM_CLOCK) -> None:
        if qps <= 0:
            raise ValueError("qps must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.qps = qps
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock.monotonic()

    def reserve(self) -> float:
        """Take one token; return the seconds to wait before using it (0.0 when one was available)."""
        now = self._clock.monotonic()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    async def wait(self) -> None:
        """Take one token, sleeping on the clock until it is due."""
        delay = self.reserve()
        if delay > 0:
            await self._clock.sleep(delay)
