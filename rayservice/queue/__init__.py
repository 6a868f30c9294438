"""The work queue between informers and workers, with client-go's semantics.

One idea per module, each layer adding to the one before:

- ``queue``: ``WorkQueue``: FIFO of keys, a key never held by two workers, re-adds during processing
  honoured; ``ShutDown`` ends a worker's loop.
- ``delaying``: ``DelayingQueue``: ``add_after`` on the injected clock; owns one background task.
- ``ratelimiting``: ``RateLimitingQueue``: ``add_rate_limited``, ``forget``, ``num_requeues``.
- ``ratelimit``: the pure limiters: ``ItemExponential``, ``TokenBucket``, ``MaxOf``,
  ``default_controller_rate_limiter``.
- ``metrics``: ``QueueMetrics``, the calls a Prometheus adapter turns into ``workqueue_*`` metrics;
  ``NO_METRICS`` by default.

Import from here, not from the modules.
"""

from rayservice.queue.delaying import DelayingQueue
from rayservice.queue.metrics import NO_METRICS, QueueMetrics
from rayservice.queue.queue import ShutDown, WorkQueue
from rayservice.queue.ratelimit import (
    ItemExponential,
    MaxOf,
    RateLimiter,
    TokenBucket,
    default_controller_rate_limiter,
)
from rayservice.queue.ratelimiting import RateLimitingQueue

__all__ = [
    "NO_METRICS",
    "DelayingQueue",
    "ItemExponential",
    "MaxOf",
    "QueueMetrics",
    "RateLimiter",
    "RateLimitingQueue",
    "ShutDown",
    "TokenBucket",
    "WorkQueue",
    "default_controller_rate_limiter",
]
