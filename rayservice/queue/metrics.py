"""What a work queue reports, as calls an adapter turns into client-go's ``workqueue_*`` metrics.

The queue measures (with its injected clock) and calls; the adapter, which lives outside this package,
owns the Prometheus objects. Every call carries the queue's name, so one adapter serves all queues
through a ``name`` label. The mapping an adapter implements:

=====================================================  ==============================================
call                                                   metric (label ``name=queue``)
=====================================================  ==============================================
``added(queue, depth)``                                ``workqueue_adds_total`` += 1;
                                                       ``workqueue_depth`` = depth
``started(queue, depth, queued_s)``                    ``workqueue_depth`` = depth;
                                                       ``workqueue_queue_duration_seconds`` observes
                                                       queued_s
``finished(queue, work_s)``                            ``workqueue_work_duration_seconds`` observes
                                                       work_s
``unfinished(queue, unfinished_s, longest_s)``         ``workqueue_unfinished_work_seconds`` =
                                                       unfinished_s;
                                                       ``workqueue_longest_running_processor_seconds``
                                                       = longest_s
``retried(queue)``                                     ``workqueue_retries_total`` += 1
=====================================================  ==============================================

Guarantees:
1. ``added`` is called once per add that made a key wait (adds that collapse are not counted).
2. ``depth`` is the number of keys waiting to be handed out, including keys re-added while processing.
3. ``started`` is called once per key handed out; ``queued_s`` runs from the add that made it wait.
4. ``finished`` is called once per ``done()`` of a key being processed; ``work_s`` runs from its ``get()``.
5. ``unfinished`` reports the summed and the longest age of the keys being processed; the queue's owner
   calls it periodically (``DelayingQueue`` every 0.5 s while its task runs, and only when metrics are
   not ``NO_METRICS``).
6. ``retried`` is called once per ``add_after`` accepted (including rate-limited adds).

Caller must:
- keep every method fast and non-blocking: they run inside queue operations on the event loop.
"""

from __future__ import annotations

from typing import Final, Protocol, final


class QueueMetrics(Protocol):
    """Receives a work queue's measurements; see the module docstring for the metric each feeds."""

    def added(self, queue: str, depth: int) -> None: ...

    def started(self, queue: str, depth: int, queued_s: float) -> None: ...

    def finished(self, queue: str, work_s: float) -> None: ...

    def unfinished(self, queue: str, unfinished_s: float, longest_s: float) -> None: ...

    def retried(self, queue: str) -> None: ...


@final
class _NoMetrics:
    __slots__ = ()

    def added(self, queue: str, depth: int) -> None:
        pass

    def started(self, queue: str, depth: int, queued_s: float) -> None:
        pass

    def finished(self, queue: str, work_s: float) -> None:
        pass

    def unfinished(self, queue: str, unfinished_s: float, longest_s: float) -> None:
        pass

    def retried(self, queue: str) -> None:
        pass

    def __repr__(self) -> str:
        return "NO_METRICS"


NO_METRICS: Final[QueueMetrics] = _NoMetrics()
"""Discards every measurement; queues given it also skip periodic reporting."""
