"""The manager: servers, informers, leader election and controllers, started in order and stopped cleanly.

Guarantees:
1. Start order (controller-runtime's): servers listen before any informer starts; workers start only after
   every informer's cache has synced and, with leader election, only once this replica leads.
2. ``is_ready`` is true once every cache has synced and the leadership state is known (leading or
   following: a synced follower is ready), until shutdown begins.
3. ``stop()`` (idempotent, safe from a signal handler) makes ``run()`` return after a clean shutdown: queues
   refuse new keys, workers finish the keys they hold and those already waiting (cancelled after
   ``shutdown_timeout_s``), the lease is released if held, then informers and servers stop.
4. Losing leadership cancels every worker at once, inside the elector's callback, before any other task
   runs: no reconcile (and so no write) starts after the loss. ``run()`` then stops the rest, without
   writing the lease, and raises ``LeadershipLost``.
5. Any other failure (an informer or worker raising, caches not synced within ``sync_timeout_s``, a
   server that cannot start) stops everything the same way and is raised from ``run()``.
6. When ``run()`` returns or raises (cancellation included), no task it started is still running and
   every controller's queue is closed.

Caller must:
- add everything before ``run()``, and call ``run()`` once.

Tasks: ``run()`` owns one task per informer, one for the elector, one per controller (which owns its
workers) and one that waits for the caches. ``stop()``, ``is_ready`` and ``is_leader`` may be called from
any callback or task on the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Final, Protocol

import structlog

from rayservice.runtime.leader import LeaderElector

DEFAULT_SYNC_TIMEOUT_S: Final = 120.0
DEFAULT_SHUTDOWN_TIMEOUT_S: Final = 25.0  # below Kubernetes' default 30 s termination grace period

_log = structlog.get_logger(__name__)


class Server(Protocol):
    """Something that listens: started before everything else, stopped after everything else."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Cache(Protocol):
    """An informer, as far as the manager is concerned."""

    @property
    def has_synced(self) -> bool: ...

    async def run(self) -> None: ...

    async def wait_synced(self) -> None: ...


class Runnable(Protocol):
    """A controller, as far as the manager is concerned; ``rayservice.runtime.Controller`` is one."""

    name: str

    @property
    def needs_leader(self) -> bool: ...

    async def run(self) -> None:
        """Work until ``drain()`` finished, or until cancelled."""
        ...

    async def drain(self) -> None:
        """Accept no new work and return once the work in hand is done."""
        ...

    def halt(self) -> None:
        """Cancel all work at once: no step of it runs after this call."""
        ...

    async def aclose(self) -> None:
        """Release what the runnable owns (its queue's task); called once, last."""
        ...


class CacheSyncTimeout(TimeoutError):
    """The informer caches did not sync in time: the API server is unreachable, or access is denied."""


class Manager:
    """Runs the operator's parts in order; see the module docstring."""

    def __init__(
        self,
        *,
        elector: LeaderElector | None = None,
        sync_timeout_s: float = DEFAULT_SYNC_TIMEOUT_S,
        shutdown_timeout_s: float = DEFAULT_SHUTDOWN_TIMEOUT_S,
    ) -> None:
        self._elector = elector
        self._sync_timeout_s = sync_timeout_s
        self._shutdown_timeout_s = shutdown_timeout_s
        self._servers: list[Server] = []
        self._caches: list[Cache] = []
        self._runnables: list[Runnable] = []
        self._background: list[asyncio.Task[None]] = []
        self._workers: dict[Runnable, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._failure: BaseException | None = None
        self._synced = False
        self._stopping = False
        self._ran = False
        if elector is not None:
            elector.add_callbacks(on_started=self._wake.set, on_stopped=self._on_stopped_leading)

    def add_server(self, server: Server) -> None:
        self._servers.append(server)

    def add_informer(self, informer: Cache) -> None:
        self._caches.append(informer)

    def add(self, runnable: Runnable) -> None:
        self._runnables.append(runnable)

    @property
    def is_leader(self) -> bool:
        """Whether this replica may write: it leads, or leader election is off."""
        return self._elector is None or self._elector.is_leader

    @property
    def is_ready(self) -> bool:
        if self._stopping or not self._synced:
            return False
        return self._elector is None or self._elector.state_known

    def stop(self) -> None:
        """Begin a clean shutdown; ``run()`` returns once it is done."""
        if not self._stopping:
            self._stopping = True
            self._wake.set()

    async def run(self) -> None:
        """Start everything in order and run until ``stop()`` or a failure (see the module docstring)."""
        if self._ran:
            raise RuntimeError("a Manager runs once")
        self._ran = True
        started: list[Server] = []
        cancelled = False
        try:
            for server in self._servers:
                await server.start()
                started.append(server)
            for index, cache in enumerate(self._caches):
                self._spawn(cache.run(), f"informer-{index}")
            self._spawn(self._sync_caches(), "cache-sync")
            if self._elector is not None:
                self._spawn(self._elector.run(), "leader-election")
            if await self._until(lambda: self._synced):
                self._start(r for r in self._runnables if not r.needs_leader)
                if await self._until(lambda: self.is_leader):
                    self._start(r for r in self._runnables if r.needs_leader)
                    await self._until(lambda: False)  # that is, until stop() or a failure
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            await self._shutdown(started, graceful=not cancelled and self._failure is None)
        if self._failure is not None:
            raise self._failure
        _log.info("manager_stopped")

    # ---- phases -----------------------------------------------------------------------------------

    async def _until(self, condition: Callable[[], bool]) -> bool:
        """Wait until ``condition()``: True when it holds, False when stopping or failed first."""
        while not condition():
            if self._stopping or self._failure is not None:
                return False
            self._wake.clear()
            await self._wake.wait()
        return not (self._stopping or self._failure is not None)

    async def _sync_caches(self) -> None:
        try:
            async with asyncio.timeout(self._sync_timeout_s):
                for cache in self._caches:
                    await cache.wait_synced()
        except TimeoutError:
            raise CacheSyncTimeout(f"informer caches did not sync within {self._sync_timeout_s} s") from None
        self._synced = True
        _log.info("caches_synced", informers=len(self._caches))
        self._wake.set()

    def _start(self, runnables: Iterable[Runnable]) -> None:
        names = []
        for runnable in runnables:
            self._workers[runnable] = self._spawn(runnable.run(), f"runnable-{runnable.name}")
            names.append(runnable.name)
        if names:
            _log.info("controllers_started", controllers=names, leader=self._elector is not None)

    def _on_stopped_leading(self) -> None:
        # Synchronous on purpose: every worker is cancelled before any of them can take another step.
        # The elector's LeadershipLost, raised right after this, is what ends run().
        for runnable in self._workers:
            runnable.halt()

    # ---- shutdown ---------------------------------------------------------------------------------

    async def _shutdown(self, started: list[Server], *, graceful: bool) -> None:
        self._stopping = True
        drained = False
        try:
            if graceful and self._workers:
                await self._drain()
            drained = graceful
        finally:  # also when cancelled while draining: nothing may be left running
            for runnable in self._workers:
                runnable.halt()
            await _wait_all(self._workers.values())
            for runnable in self._runnables:
                await runnable.aclose()
            for task in self._background:
                task.cancel()
            await _wait_all(self._background)
            if drained and self._elector is not None:
                await self._elector.release()
            for server in reversed(started):
                await server.stop()

    async def _drain(self) -> None:
        try:
            async with asyncio.timeout(self._shutdown_timeout_s):
                await asyncio.gather(*(r.drain() for r in self._workers))
                await _wait_all(self._workers.values())
        except TimeoutError:
            _log.warning("shutdown_drain_timed_out", timeout_s=self._shutdown_timeout_s)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(work, name=f"manager-{name}")
        task.add_done_callback(self._task_done)
        self._background.append(task)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is not None and self._failure is None:
            self._failure = error  # raised from run(), so not logged here
        self._wake.set()


async def _wait_all(tasks: Iterable[asyncio.Task[None]]) -> None:
    pending = [task for task in tasks if not task.done()]
    if pending:
        await asyncio.wait(pending)
