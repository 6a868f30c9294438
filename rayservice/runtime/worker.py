"""The worker loop: take a key, reconcile it, and turn the outcome into the queue's next move.

Guarantees:
1. ``done(key)`` is called for every key a worker took, whatever the reconcile did, cancellation included.
2. Outcomes map to the queue as follows:
   - ``DONE``: ``forget`` (the key's backoff is reset);
   - ``Result(requeue_after_s=s)``: ``forget``, then ``add_after(key, s)``;
   - ``Conflict`` or ``AlreadyExists`` (409) from ``rayservice.kube``: ``add_rate_limited``, logged at debug
     level only (a stale cache is routine, not news);
   - ``NotLeader`` (the client's write fence refused a write: leadership was just lost): ``add_rate_limited``,
     debug level (the process is on its way out; the elector logs the loss once);
   - a transient API error (``ServerError`` 5xx, ``TooManyRequests`` 429, ``KubeTransportError``: no answer
     or a timeout, ``TimeoutError``): ``add_rate_limited``, one warning with the key and the error's text,
     no traceback (the API server's trouble, not ours);
   - ``TerminalError``: ``forget``, error log, no retry;
   - any other exception (a bug): ``add_rate_limited``, error log with the traceback.
3. Every reconcile is timed and counted once, with result ``success``, ``requeue_after``, ``requeue``
   (conflict) or ``error`` (terminal errors included); errors are also counted on their own.
4. Every log line emitted during a reconcile, the reconciler's own included, carries ``controller``,
   ``key`` and a fresh ``reconcile_id`` (bound with ``structlog.contextvars``, unbound afterwards).
5. ``asyncio.CancelledError`` is never caught: a cancelled worker stops at once and does not retry.
6. ``run_worker`` returns once the queue is shut down and has no key left for it.

This module is the one place that catches ``Exception``: a reconcile bug must cost a retry, not a worker.
Tasks: each worker is one task running ``run_worker``; any number may share a queue.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Final, Protocol, final

import structlog

from rayservice.clock import SYSTEM_CLOCK, Clock
from rayservice.keys import ObjectKey
from rayservice.kube import AlreadyExists, Conflict, KubeTransportError, NotLeader, ServerError, TooManyRequests
from rayservice.queue import ShutDown
from rayservice.runtime.result import Result, TerminalError

Reconciler = Callable[[ObjectKey], Awaitable[Result]]

SUCCESS: Final = "success"
REQUEUE_AFTER: Final = "requeue_after"
REQUEUE: Final = "requeue"
ERROR: Final = "error"
_TRANSIENT: Final = (ServerError, TooManyRequests, KubeTransportError, TimeoutError)

_log = structlog.get_logger(__name__)


class WorkerQueue(Protocol):
    """The queue calls a worker makes; ``rayservice.queue.RateLimitingQueue[ObjectKey]`` is one."""

    async def get(self) -> ObjectKey: ...

    def done(self, key: ObjectKey) -> None: ...

    def forget(self, key: ObjectKey) -> None: ...

    def add_after(self, key: ObjectKey, delay_s: float) -> None: ...

    def add_rate_limited(self, key: ObjectKey) -> None: ...


class ReconcileMetrics(Protocol):
    """Receives reconcile outcomes; ``rayservice.metrics`` turns them into ``controller_runtime_*``."""

    def reconciled(self, controller: str, result: str, duration_s: float) -> None: ...

    def active_workers(self, controller: str, count: int) -> None: ...

    def max_workers(self, controller: str, count: int) -> None: ...


@final
class _NoReconcileMetrics:
    __slots__ = ()

    def reconciled(self, controller: str, result: str, duration_s: float) -> None:
        pass

    def active_workers(self, controller: str, count: int) -> None:
        pass

    def max_workers(self, controller: str, count: int) -> None:
        pass

    def __repr__(self) -> str:
        return "NO_RECONCILE_METRICS"


NO_RECONCILE_METRICS: Final[ReconcileMetrics] = _NoReconcileMetrics()


async def run_worker(
    queue: WorkerQueue,
    reconcile: Reconciler,
    *,
    controller: str,
    clock: Clock = SYSTEM_CLOCK,
    metrics: ReconcileMetrics = NO_RECONCILE_METRICS,
) -> None:
    """Reconcile keys from ``queue`` until it is shut down."""
    while True:
        try:
            key = await queue.get()
        except ShutDown:
            return
        try:
            await reconcile_key(queue, reconcile, key, controller=controller, clock=clock, metrics=metrics)
        finally:
            queue.done(key)


async def reconcile_key(
    queue: WorkerQueue,
    reconcile: Reconciler,
    key: ObjectKey,
    *,
    controller: str,
    clock: Clock = SYSTEM_CLOCK,
    metrics: ReconcileMetrics = NO_RECONCILE_METRICS,
) -> str:
    """Reconcile one key the caller took from ``queue``, apply the outcome, and return its metric label.

    The caller still owns ``queue.done(key)``.
    """
    with structlog.contextvars.bound_contextvars(controller=controller, key=str(key), reconcile_id=_new_id()):
        started = clock.monotonic()
        requeue_after_s: float | None = None
        try:
            result = await reconcile(key)
        except (Conflict, AlreadyExists) as exc:
            queue.add_rate_limited(key)
            outcome = REQUEUE
            _log.debug("reconcile_conflict", reason=exc.reason, message=exc.message)
        except NotLeader as exc:
            queue.add_rate_limited(key)
            outcome = REQUEUE
            _log.debug("reconcile_fenced", error=str(exc))
        except _TRANSIENT as exc:
            queue.add_rate_limited(key)
            outcome = ERROR
            _log.warning("reconcile_failed_transiently", error=str(exc) or type(exc).__name__,
                         error_type=type(exc).__name__)
        except TerminalError as exc:
            queue.forget(key)
            outcome = ERROR
            _log.error("reconcile_failed_terminally", error=str(exc), error_type=type(exc).__name__)
        except Exception as exc:
            queue.add_rate_limited(key)
            outcome = ERROR
            _log.error("reconcile_failed", error=str(exc), error_type=type(exc).__name__, exc_info=True)
        else:
            queue.forget(key)
            requeue_after_s = result.requeue_after_s
            if requeue_after_s is None:
                outcome = SUCCESS
            else:
                queue.add_after(key, requeue_after_s)
                outcome = REQUEUE_AFTER
        duration_s = clock.monotonic() - started
        metrics.reconciled(controller, outcome, duration_s)
        if outcome in (SUCCESS, REQUEUE_AFTER):
            _log.debug("reconciled", result=outcome, requeue_after_s=requeue_after_s, duration_s=duration_s)
        return outcome


def _new_id() -> str:
    return str(uuid.uuid4())
