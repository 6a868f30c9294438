"""A controller: one reconcile function, its rate-limited work queue, and the workers that drain it.

Guarantees:
1. ``enqueue(key)`` never blocks and never awaits, so informer handlers may call it; keys enqueued before
   the workers start (during the cache sync, or while this replica follows) wait in the queue.
2. ``watch(informer, mapper)`` enqueues, for every add, update and delete the informer reports, the keys
   ``mapper`` finds (by default the changed object's own key).
3. ``run()`` runs ``workers`` workers (``rayservice.runtime.worker``: each key by one worker at a time)
   and returns once the queue is shut down and empty, or once ``halt()`` cancelled them.
4. ``drain()`` refuses new keys and returns once no key is being processed; ``halt()`` cancels every
   worker synchronously: none takes another step after the call.
5. ``controller_runtime_active_workers`` counts the workers inside a reconcile right now.

Caller must:
- ``await aclose()`` once done (it closes the queue's timer task), also if ``run()`` never ran.

Tasks: ``run()`` owns the worker tasks; everything else is called from the loop's other tasks.
"""

from __future__ import annotations

import asyncio

from rayservice.clock import SYSTEM_CLOCK, Clock
from rayservice.informers import Informer, KeyMapper, enqueue_self
from rayservice.keys import ObjectKey
from rayservice.queue import NO_METRICS, QueueMetrics, RateLimiter, RateLimitingQueue
from rayservice.runtime.result import Result
from rayservice.runtime.worker import NO_RECONCILE_METRICS, ReconcileMetrics, Reconciler, run_worker


class Controller:
    """A reconcile function, its rate-limited queue and ``workers`` workers; ``watch`` wires informers to it.

    Keys reach the queue through ``enqueue`` (what informer handlers call); the workers start when the
    manager runs the controller, so keys enqueued before (during the cache sync, or while following)
    wait for it.
    """

    def __init__(
        self,
        name: str,
        reconcile: Reconciler,
        *,
        workers: int = 1,
        needs_leader: bool = True,
        clock: Clock = SYSTEM_CLOCK,
        rate_limiter: RateLimiter | None = None,
        queue_metrics: QueueMetrics = NO_METRICS,
        metrics: ReconcileMetrics = NO_RECONCILE_METRICS,
    ) -> None:
        if workers < 1:
            raise ValueError("a controller needs at least one worker")
        self.name = name
        self.queue = RateLimitingQueue[ObjectKey](
            name=name, clock=clock, rate_limiter=rate_limiter, metrics=queue_metrics
        )
        self._reconcile = reconcile
        self._worker_count = workers
        self._needs_leader = needs_leader
        self._clock = clock
        self._metrics = metrics
        self._active = 0
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def needs_leader(self) -> bool:
        return self._needs_leader

    def enqueue(self, key: ObjectKey) -> None:
        """Ask for a reconcile of ``key``; never blocks, so informer handlers may call it."""
        self.queue.add(key)

    def watch(self, informer: Informer, mapper: KeyMapper | None = None) -> None:
        """Enqueue the keys ``mapper`` (default: the object's own key) finds in every change of ``informer``."""
        informer.add_handlers((mapper or enqueue_self()).handlers(self.enqueue))

    async def run(self) -> None:
        """Run the workers until the queue is shut down and empty, or until ``halt()``."""
        self.queue.start()
        self._metrics.max_workers(self.name, self._worker_count)
        self._metrics.active_workers(self.name, 0)
        async with asyncio.TaskGroup() as workers:
            for index in range(self._worker_count):
                worker = run_worker(
                    self.queue, self._counted, controller=self.name, clock=self._clock, metrics=self._metrics
                )
                self._tasks.append(workers.create_task(worker, name=f"{self.name}-worker-{index}"))

    async def drain(self) -> None:
        await self.queue.shutdown_with_drain()

    def halt(self) -> None:
        self.queue.shutdown()
        for task in self._tasks:
            task.cancel()

    async def aclose(self) -> None:
        await self.queue.aclose()

    async def _counted(self, key: ObjectKey) -> Result:
        self._active += 1
        self._metrics.active_workers(self.name, self._active)
        try:
            return await self._reconcile(key)
        finally:
            self._active -= 1
            self._metrics.active_workers(self.name, self._active)
