"""A leader whose process was paused past its renew deadline stops leading before any task that I/O woke during
the pause takes a step: the cause of the late writes test_leader_failover found, replayed in one process.
Blocking the event loop with ``time.sleep`` is the pause (as SIGSTOP is); a thread resolves what a worker
awaits meanwhile, as an API answer arriving during the pause does."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from rayservice.clock import SYSTEM_CLOCK
from rayservice.runtime import LeaderElectionConfig, LeaderElector, LeadershipLost
from tests.unit.controller.fakes import FakeLeaseApi

CONFIG = LeaderElectionConfig(namespace="default", identity="me", lease_duration_s=1.5, renew_deadline_s=1.0,
                              retry_period_s=0.2)


@pytest.mark.timeout(30)
async def test_a_leader_paused_past_its_renew_deadline_cancels_workers_before_they_take_a_step() -> None:
    loop = asyncio.get_running_loop()
    elector = LeaderElector(FakeLeaseApi(), CONFIG, clock=SYSTEM_CLOCK)
    answer: asyncio.Future[None] = loop.create_future()
    writes: list[str] = []

    async def worker() -> None:
        await answer  # an API answer; the next write follows at once
        writes.append("write sent after the lease was lost")

    worker_task = asyncio.create_task(worker())
    leading = asyncio.Event()

    def on_stopped() -> None:
        worker_task.cancel()

    elector.add_callbacks(on_started=leading.set, on_stopped=on_stopped)
    run = asyncio.create_task(elector.run())
    async with asyncio.timeout(5.0):
        await leading.wait()
    answering = threading.Timer(0.1, loop.call_soon_threadsafe, (answer.set_result, None))
    answering.start()
    time.sleep(CONFIG.renew_deadline_s + 0.3)  # noqa: ASYNC251 - the pause itself: no renewal, no task step
    answering.join()
    assert not elector.is_leader  # the deadline passed on the clock: no write fence may let a write through
    with pytest.raises(LeadershipLost):
        async with asyncio.timeout(5.0):
            await run
    await asyncio.wait((worker_task,))
    assert worker_task.cancelled() and writes == []


class _PausingLeaseApi(FakeLeaseApi):
    """Its ``pause_next_get`` read answers only after the process stood still past the renew deadline."""

    pause_next_get = False

    async def get(self, resource: Any, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        lease = await super().get(resource, name, namespace=namespace)
        if self.pause_next_get:
            self.pause_next_get = False
            time.sleep(CONFIG.renew_deadline_s + 0.3)  # noqa: ASYNC251 - the pause, with the read out
        return lease


@pytest.mark.timeout(30)
async def test_a_renewal_whose_read_spans_the_renew_deadline_writes_no_lease() -> None:
    api = _PausingLeaseApi()
    elector = LeaderElector(api, CONFIG, clock=SYSTEM_CLOCK)
    leading = asyncio.Event()
    elector.add_callbacks(on_started=leading.set)
    run = asyncio.create_task(elector.run())
    async with asyncio.timeout(5.0):
        await leading.wait()
    writes = len(api.writes)
    api.pause_next_get = True
    with pytest.raises(LeadershipLost):
        async with asyncio.timeout(5.0):
            await run
    assert len(api.writes) == writes  # the renewal read before the pause is not followed by an update
