"""A work queue of hashable keys with client-go semantics, for asyncio workers.

Guarantees:
1. FIFO among ready keys: keys are handed out in the order they became ready.
2. A key is never handed to two workers at once.
3. Adding a key that is already waiting is a no-op.
4. A key added while being processed is handed out once more after ``done()``.
5. After ``shutdown()``, ``add()`` is ignored; ``get()`` still hands out the keys that were waiting, then
   raises ``ShutDown`` to every caller, including those already waiting.
6. ``shutdown_with_drain()`` returns once no key is being processed, or as soon as ``shutdown()`` is called.
7. A ``get()`` cancelled after it was woken passes the wakeup on: no key is left waiting while a worker
   waits.

Caller must:
- call ``done(key)`` once for every key ``get()`` returned, also when processing failed;
- use a queue from one event loop (it is not thread-safe).

Not guaranteed:
- which of several waiting ``get()`` callers receives the next key.

Tasks: any task on the loop may call ``add``, ``done``, ``shutdown`` and ``report_unfinished_work`` (all
synchronous: they never suspend, so informer handlers may call ``add``), and ``get`` or
``shutdown_with_drain``. This queue starts no task; whoever owns it calls ``report_unfinished_work()``
periodically when it has metrics (``DelayingQueue`` does).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

from rayservice.clock import SYSTEM_CLOCK, Clock
from rayservice.queue.metrics import NO_METRICS, QueueMetrics

K = TypeVar("K", bound=Hashable)


class ShutDown(Exception):
    """Raised by ``WorkQueue.get()`` once the queue is shut down and no key is waiting: the worker exits."""


class WorkQueue(Generic[K]):
    """FIFO of keys plus a dirty set and a processing set (see the module docstring).

    A worker loop::

        while True:
            try:
                key = await queue.get()
            except ShutDown:
                return
            try:
                ...
            finally:
                queue.done(key)
    """

    def __init__(
        self, *, name: str = "rayservice", clock: Clock = SYSTEM_CLOCK, metrics: QueueMetrics = NO_METRICS
    ) -> None:
        self.name = name
        self._clock = clock
        self._metrics = metrics
        # Every key in _ready is in _dirty and not in _processing.
        self._ready: deque[K] = deque()
        # Keys that need processing -> monotonic time of the add that made them wait.
        self._dirty: dict[K, float] = {}
        # Keys handed out and not yet done -> monotonic time they were handed out.
        self._processing: dict[K, float] = {}
        self._getters: deque[asyncio.Future[None]] = deque()
        self._drainers: list[asyncio.Future[None]] = []
        self._shutting_down = False

    def __len__(self) -> int:
        """How many keys are ready to be handed out; informational only, never gate ``get()`` on it."""
        return len(self._ready)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def add(self, key: K) -> None:
        """Mark ``key`` as needing processing."""
        if self._shutting_down or key in self._dirty:
            return
        self._dirty[key] = self._clock.monotonic()
        self._metrics.added(self.name, len(self._dirty))
        if key in self._processing:
            return  # done() makes it ready, so no two workers hold it
        self._ready.append(key)
        self._wake_one_getter()

    async def get(self) -> K:
        """Wait for a ready key and mark it as being processed; raise ``ShutDown`` when there is none left."""
        while not self._ready:
            if self._shutting_down:
                raise ShutDown
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except asyncio.CancelledError:
                if getter.done() and not getter.cancelled():
                    self._wake_one_getter()  # the wakeup was meant for a key another worker must take
                elif getter in self._getters:
                    self._getters.remove(getter)
                raise
        key = self._ready.popleft()
        now = self._clock.monotonic()
        queued_s = now - self._dirty.pop(key)
        self._processing[key] = now
        self._metrics.started(self.name, len(self._dirty), queued_s)
        return key

    def done(self, key: K) -> None:
        """Mark ``key`` as processed; hand it out again if it was added meanwhile. Ignores unknown keys."""
        started_at = self._processing.pop(key, None)
        if started_at is None:
            return
        self._metrics.finished(self.name, self._clock.monotonic() - started_at)
        if key in self._dirty:
            self._ready.append(key)
            self._wake_one_getter()
        if not self._processing:
            self._release_drainers()

    def shutdown(self) -> None:
        """Ignore further adds, let workers take what is waiting, then make ``get()`` raise ``ShutDown``."""
        self._begin_shutdown()
        self._release_drainers()

    async def shutdown_with_drain(self) -> None:
        """Shut down like ``shutdown()``, then wait until every key handed out is done.

        Calling ``shutdown()`` meanwhile ends the wait at once.
        """
        self._begin_shutdown()
        if not self._processing:
            return
        drainer = asyncio.get_running_loop().create_future()
        self._drainers.append(drainer)
        try:
            await drainer
        finally:
            if drainer in self._drainers:
                self._drainers.remove(drainer)

    def report_unfinished_work(self) -> None:
        """Report how long the keys being processed have been running, in sum and the longest."""
        now = self._clock.monotonic()
        ages = [now - started_at for started_at in self._processing.values()]
        self._metrics.unfinished(self.name, sum(ages), max(ages, default=0.0))

    def _begin_shutdown(self) -> None:
        self._shutting_down = True
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)

    def _wake_one_getter(self) -> None:
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
                return

    def _release_drainers(self) -> None:
        drainers, self._drainers = self._drainers, []
        for drainer in drainers:
            if not drainer.done():
                drainer.set_result(None)
