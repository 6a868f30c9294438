"""A delaying queue that retries failed keys with backoff: ``add_rate_limited``, ``forget``, ``num_requeues``.

Guarantees:
1. ``add_rate_limited(key)`` adds the key after the delay its rate limiter returns (through ``add_after``,
   so an earlier pending deadline for the key still wins).
2. ``forget(key)`` resets the key's backoff; a key already waiting for its retry stays scheduled.
3. ``num_requeues(key)`` counts the ``add_rate_limited(key)`` calls since the key was last forgotten.
4. After shutdown, ``add_rate_limited`` is a no-op and leaves the limiter untouched.
5. Without a ``rate_limiter``, the queue uses ``default_controller_rate_limiter`` on its own clock.
6. All of ``DelayingQueue``'s guarantees hold, ownership of its background task included.

Caller must:
- call ``forget(key)`` when the key succeeded (or will not be retried), else its backoff keeps growing.

Tasks: as ``DelayingQueue``. The worker that failed a key calls ``add_rate_limited`` before ``done``; the
one that succeeded calls ``forget`` before ``done``.
"""

from __future__ import annotations

from rayservice.clock import SYSTEM_CLOCK, Clock
from rayservice.queue.delaying import DelayingQueue
from rayservice.queue.metrics import NO_METRICS, QueueMetrics
from rayservice.queue.queue import K
from rayservice.queue.ratelimit import RateLimiter, default_controller_rate_limiter


class RateLimitingQueue(DelayingQueue[K]):
    """A ``DelayingQueue`` whose retries are paced by a ``RateLimiter`` (see the module docstring)."""

    def __init__(
        self,
        *,
        name: str = "rayservice",
        clock: Clock = SYSTEM_CLOCK,
        rate_limiter: RateLimiter | None = None,
        metrics: QueueMetrics = NO_METRICS,
    ) -> None:
        super().__init__(name=name, clock=clock, metrics=metrics)
        self._rate_limiter = rate_limiter if rate_limiter is not None else default_controller_rate_limiter(clock)

    def add_rate_limited(self, key: K) -> None:
        """Add ``key`` again once the rate limiter allows it; counts as one more failure of the key."""
        if self.shutting_down:
            return
        self.add_after(key, self._rate_limiter.when(key))

    def forget(self, key: K) -> None:
        """Reset the key's backoff; call it after a success."""
        self._rate_limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        """How many times ``key`` was added rate-limited since it was last forgotten."""
        return self._rate_limiter.num_requeues(key)
