"""A work queue that can add a key later: ``add_after(key, delay_s)``, driven by an injected clock.

Guarantees:
1. ``add_after(key, d)`` with ``d <= 0`` adds the key now.
2. A key is added once its deadline (``clock.monotonic()`` at the call plus ``d``) has passed, never before.
3. When a key is added after twice before it is added, the earliest deadline wins.
4. Keys whose deadlines pass together are added in deadline order, ties in the order of the calls that
   set those deadlines.
5. After shutdown, ``add_after`` is a no-op, keys still waiting for their deadline are dropped, and the
   background task is cancelled; ``aclose()``, ``shutdown_with_drain()`` and leaving ``async with``
   also await it.
6. All of ``WorkQueue``'s guarantees hold; a delayed key enters through ``add()``, so it collapses with
   a waiting copy of itself.

Caller must:
- call ``add_after`` from a task on the event loop (it may start the background task);
- end the queue with ``aclose()``, ``shutdown_with_drain()`` or ``async with``, so the task is awaited.

Not guaranteed:
- that a deadline is dropped when its key is added or processed meanwhile: once due, the key is added
  again (collapsing with a copy still waiting, per 6).

Tasks: the queue owns one background task. ``start()`` or entering ``async with`` starts it, and so does
the first ``add_after`` with a positive delay. It sleeps on the clock until the earliest deadline (woken
early when an earlier one arrives), adds the keys that are due, and, when metrics are enabled, reports
unfinished work every 0.5 s. The timer tasks it creates are its own and are awaited before it moves on.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from types import TracebackType
from typing import Final, Self

from rayservice.clock import SYSTEM_CLOCK, Clock
from rayservice.queue.metrics import NO_METRICS, QueueMetrics
from rayservice.queue.queue import K, WorkQueue

UNFINISHED_WORK_PERIOD_S: Final = 0.5


class DelayingQueue(WorkQueue[K]):
    """A ``WorkQueue`` with ``add_after`` (see the module docstring)."""

    def __init__(
        self, *, name: str = "rayservice", clock: Clock = SYSTEM_CLOCK, metrics: QueueMetrics = NO_METRICS
    ) -> None:
        super().__init__(name=name, clock=clock, metrics=metrics)
        # The deadline in force per key, with the sequence number of the heap entry that carries it.
        self._deadlines: dict[K, tuple[float, int]] = {}
        # May hold superseded entries: an earlier add_after pushes a new entry rather than editing one.
        self._heap: list[tuple[float, int, K]] = []
        self._pushes = itertools.count()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def start(self) -> None:
        """Start the background task if it is not running; a no-op after shutdown."""
        if self._task is None and not self.shutting_down:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"workqueue-{self.name}")

    async def aclose(self) -> None:
        """Shut down at once and wait for the background task to finish."""
        self.shutdown()
        await self._join()

    async def shutdown_with_drain(self) -> None:
        await super().shutdown_with_drain()
        await self._join()

    def add_after(self, key: K, delay_s: float) -> None:
        """Add ``key`` once ``delay_s`` seconds have passed, unless an earlier deadline is already set."""
        if self.shutting_down:
            return
        self._metrics.retried(self.name)
        if delay_s <= 0:
            self.add(key)
            return
        ready_at = self._clock.monotonic() + delay_s
        current = self._deadlines.get(key)
        if current is not None and current[0] <= ready_at:
            return
        self.start()
        push = next(self._pushes)
        self._deadlines[key] = (ready_at, push)
        heapq.heappush(self._heap, (ready_at, push, key))
        self._wakeup.set()

    def _begin_shutdown(self) -> None:
        super()._begin_shutdown()
        self._deadlines.clear()
        self._heap.clear()
        if self._task is not None:
            self._task.cancel()

    async def _join(self) -> None:
        task = self._task
        if task is None:
            return
        # asyncio.wait, unlike awaiting the task, lets a cancellation of the caller through.
        await asyncio.wait((task,))
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            if self._metrics is not NO_METRICS:
                tasks.create_task(self._report_unfinished_work_forever())
            await self._add_when_due_forever()

    async def _add_when_due_forever(self) -> None:
        while True:
            self._wakeup.clear()
            next_deadline = self._add_due_keys()
            if next_deadline is None:
                await self._wakeup.wait()
            else:
                await self._sleep_unless_woken(next_deadline)

    def _add_due_keys(self) -> float | None:
        """Add every key whose deadline passed; return the next deadline, if any."""
        now = self._clock.monotonic()
        while self._heap:
            ready_at, push, key = self._heap[0]
            if self._deadlines.get(key) != (ready_at, push):
                heapq.heappop(self._heap)  # superseded by an earlier deadline, or already added
                continue
            if ready_at > now:
                return ready_at
            heapq.heappop(self._heap)
            del self._deadlines[key]
            self.add(key)
        return None

    async def _sleep_unless_woken(self, deadline: float) -> None:
        timer = asyncio.create_task(self._sleep_until(deadline))
        woken = asyncio.create_task(self._wakeup.wait())
        try:
            await asyncio.wait((timer, woken), return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            woken.cancel()
            await asyncio.wait((timer, woken))

    async def _sleep_until(self, deadline: float) -> None:
        # Measured when the timer starts, not when it was created: time may have passed in between.
        await self._clock.sleep(deadline - self._clock.monotonic())

    async def _report_unfinished_work_forever(self) -> None:
        while True:
            self.report_unfinished_work()
            await self._clock.sleep(UNFINISHED_WORK_PERIOD_S)
