"""The manager's order, readiness, shutdown and failure handling, with fake caches and servers (no sockets)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest
from structlog.testing import capture_logs

from rayservice.api import ObjectKey
from rayservice.runtime import (
    DONE,
    CacheSyncTimeout,
    Controller,
    LeaderElectionConfig,
    LeaderElector,
    LeadershipLost,
    Manager,
    Result,
)
from rayservice.testing import FakeClock, settle
from tests.unit.controller.fakes import FakeLeaseApi

KEY = ObjectKey("default", "a")


class FakeServer:
    def __init__(self, events: list[str]) -> None:
        self._events = events

    async def start(self) -> None:
        self._events.append("server started")

    async def stop(self) -> None:
        self._events.append("server stopped")


class FakeCache:
    """An informer whose sync the test decides; ``error`` makes ``run()`` fail once synced."""

    def __init__(self, events: list[str], *, error: Exception | None = None) -> None:
        self._events = events
        self._error = error
        self.synced = asyncio.Event()

    @property
    def has_synced(self) -> bool:
        return self.synced.is_set()

    async def run(self) -> None:
        self._events.append("informer started")
        try:
            await self.synced.wait()
            if self._error is not None:
                raise self._error
            await asyncio.Event().wait()
        finally:
            self._events.append("informer stopped")

    async def wait_synced(self) -> None:
        await self.synced.wait()


class Gated:
    """A reconciler that records keys and can be held at a gate."""

    def __init__(self, events: list[str]) -> None:
        self._events = events
        self.gate = asyncio.Event()
        self.gate.set()
        self.entered = asyncio.Event()
        self.finished: list[ObjectKey] = []
        self.cancelled: list[ObjectKey] = []
        self.tasks: list[asyncio.Task[object]] = []

    async def __call__(self, key: ObjectKey) -> Result:
        self._events.append(f"reconcile {key}")
        task = asyncio.current_task()
        assert task is not None
        self.tasks.append(task)
        self.entered.set()
        try:
            await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled.append(key)
            raise
        self.finished.append(key)
        return DONE


@pytest.fixture
def events() -> list[str]:
    return []


@pytest.fixture
async def running() -> AsyncIterator[list[asyncio.Task[None]]]:
    tasks: list[asyncio.Task[None]] = []
    with capture_logs():
        yield tasks
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)


def assemble(
    events: list[str], *, elector: LeaderElector | None = None, **options: float
) -> tuple[Manager, FakeCache, Gated, Controller]:
    manager = Manager(elector=elector, **options)
    cache = FakeCache(events)
    reconcile = Gated(events)
    controller = Controller("things", reconcile, workers=2)
    manager.add_server(FakeServer(events))
    manager.add_informer(cache)
    manager.add(controller)
    return manager, cache, reconcile, controller


async def test_servers_start_first_workers_only_after_the_sync_and_servers_stop_last(
    events: list[str], running: list[asyncio.Task[None]]
) -> None:
    manager, cache, _, controller = assemble(events)
    controller.enqueue(KEY)
    running.append(asyncio.create_task(manager.run()))
    await settle()
    assert events == ["server started", "informer started"]
    assert not manager.is_ready
    cache.synced.set()
    await settle()
    assert events[-1] == "reconcile default/a" and manager.is_ready
    manager.stop()
    await running[0]
    assert events[-2:] == ["informer stopped", "server stopped"]


async def test_stop_lets_the_keys_in_hand_finish_before_run_returns(
    events: list[str], running: list[asyncio.Task[None]]
) -> None:
    manager, cache, reconcile, controller = assemble(events)
    reconcile.gate.clear()
    cache.synced.set()
    controller.enqueue(KEY)
    running.append(asyncio.create_task(manager.run()))
    await reconcile.entered.wait()
    manager.stop()
    await settle()
    assert not running[0].done() and not manager.is_ready
    controller.enqueue(ObjectKey("default", "late"))  # refused: the queue is shutting down
    reconcile.gate.set()
    await running[0]
    assert reconcile.finished == [KEY] and reconcile.cancelled == []


async def test_a_drain_longer_than_the_shutdown_timeout_is_cut_short(
    events: list[str], running: list[asyncio.Task[None]]
) -> None:
    manager, cache, reconcile, controller = assemble(events, shutdown_timeout_s=0.01)
    reconcile.gate.clear()
    cache.synced.set()
    controller.enqueue(KEY)
    running.append(asyncio.create_task(manager.run()))
    await reconcile.entered.wait()
    manager.stop()
    await running[0]
    assert reconcile.cancelled == [KEY]


async def test_a_failing_informer_stops_everything_and_its_error_is_raised(events: list[str]) -> None:
    manager = Manager()
    cache = FakeCache(events, error=RuntimeError("handler bug"))
    manager.add_informer(cache)
    manager.add_server(FakeServer(events))
    cache.synced.set()
    with capture_logs(), pytest.raises(RuntimeError, match="handler bug"):
        await manager.run()
    assert events[-1] == "server stopped"


async def test_caches_that_do_not_sync_in_time_end_run_with_cache_sync_timeout(events: list[str]) -> None:
    manager, _, reconcile, controller = assemble(events, sync_timeout_s=0.01)
    controller.enqueue(KEY)
    with capture_logs(), pytest.raises(CacheSyncTimeout):
        await manager.run()
    assert reconcile.finished == [] and events[-1] == "server stopped"


class TestWithLeaderElection:
    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def api(self) -> FakeLeaseApi:
        return FakeLeaseApi()

    def elector(self, api: FakeLeaseApi, clock: FakeClock, identity: str) -> LeaderElector:
        config = LeaderElectionConfig(namespace="ops", identity=identity)
        return LeaderElector(api, config, clock=clock, rng=random.Random(1))

    async def test_a_synced_follower_is_ready_but_runs_no_worker(
        self, events: list[str], running: list[asyncio.Task[None]], api: FakeLeaseApi, clock: FakeClock
    ) -> None:
        other = self.elector(api, clock, "other")
        running.append(asyncio.create_task(other.run()))
        await settle()
        manager, cache, reconcile, controller = assemble(events, elector=self.elector(api, clock, "me"))
        controller.enqueue(KEY)
        running.append(asyncio.create_task(manager.run()))
        cache.synced.set()
        await settle()
        assert manager.is_ready and not manager.is_leader
        for _ in range(60):  # the other replica keeps renewing all along
            clock.step(0.5)
            await settle()
        assert reconcile.finished == [] and manager.is_ready

    async def test_losing_the_lease_cancels_the_workers_at_once_and_run_raises_leadership_lost(
        self, events: list[str], running: list[asyncio.Task[None]], api: FakeLeaseApi, clock: FakeClock
    ) -> None:
        elector = self.elector(api, clock, "me")
        manager, cache, reconcile, controller = assemble(events, elector=elector)
        cancelling_at_loss: list[int] = []
        # Registered after the manager's own callback: by now every worker must already be cancelled.
        elector.add_callbacks(on_stopped=lambda: cancelling_at_loss.extend(t.cancelling() for t in reconcile.tasks))
        reconcile.gate.clear()
        cache.synced.set()
        controller.enqueue(KEY)
        task = asyncio.create_task(manager.run())
        running.append(task)
        await reconcile.entered.wait()
        assert manager.is_leader
        api.failing = True
        writes = len(api.writes)
        for _ in range(11):
            clock.step(1.0)
            await settle()
        assert task.done()
        with pytest.raises(LeadershipLost):
            task.result()
        assert cancelling_at_loss == [1]
        assert reconcile.cancelled == [KEY] and reconcile.finished == []
        assert len(api.writes) == writes  # no release after a loss
        assert events[-1] == "server stopped"
