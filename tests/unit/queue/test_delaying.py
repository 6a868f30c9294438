"""DelayingQueue: add_after on a stepped FakeClock, earliest deadline wins, an owned background task."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from rayservice.queue import DelayingQueue, ShutDown
from rayservice.testing import FakeClock, settle


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def queue(clock: FakeClock) -> AsyncIterator[DelayingQueue[str]]:
    async with DelayingQueue[str](name="delaying", clock=clock) as queue:
        yield queue


async def advance(clock: FakeClock, seconds: float) -> None:
    clock.step(seconds)
    await settle()


async def ready_keys(queue: DelayingQueue[str]) -> list[str]:
    keys = [await queue.get() for _ in range(len(queue))]
    for key in keys:
        queue.done(key)
    return keys


class RecordingMetrics:
    def __init__(self) -> None:
        self.retries = 0
        self.unfinished_reports: list[tuple[float, float]] = []

    def added(self, queue: str, depth: int) -> None:
        pass

    def started(self, queue: str, depth: int, queued_s: float) -> None:
        pass

    def finished(self, queue: str, work_s: float) -> None:
        pass

    def unfinished(self, queue: str, unfinished_s: float, longest_s: float) -> None:
        self.unfinished_reports.append((unfinished_s, longest_s))

    def retried(self, queue: str) -> None:
        self.retries += 1


class TestGuarantees:
    @pytest.mark.parametrize("delay_s", [0.0, -1.0])
    async def test_add_after_with_a_non_positive_delay_adds_the_key_now(
        self, queue: DelayingQueue[str], delay_s: float
    ) -> None:
        queue.add_after("k", delay_s)
        assert len(queue) == 1

    async def test_key_is_added_once_its_deadline_has_passed_never_before(
        self, queue: DelayingQueue[str], clock: FakeClock
    ) -> None:
        queue.add_after("k", 2.0)
        await advance(clock, 1.999)
        assert len(queue) == 0
        await advance(clock, 0.001)
        assert await ready_keys(queue) == ["k"]

    async def test_time_that_passes_before_the_task_starts_sleeping_still_counts(self, clock: FakeClock) -> None:
        async with DelayingQueue[str](clock=clock) as queue:
            queue.add_after("k", 1.0)
            clock.step(1.0)  # the queue's task has not run yet
            await settle()
            assert await ready_keys(queue) == ["k"]

    async def test_earliest_deadline_wins_when_a_key_is_added_after_twice(
        self, queue: DelayingQueue[str], clock: FakeClock
    ) -> None:
        queue.add_after("later-first", 5.0)
        queue.add_after("later-first", 1.0)
        queue.add_after("earlier-first", 1.0)
        queue.add_after("earlier-first", 5.0)
        await advance(clock, 1.0)
        assert await ready_keys(queue) == ["later-first", "earlier-first"]
        await advance(clock, 10.0)
        assert len(queue) == 0, "the superseded deadline must not add the key again"

    async def test_earlier_deadline_wakes_the_task_sleeping_on_a_later_one(
        self, queue: DelayingQueue[str], clock: FakeClock
    ) -> None:
        queue.add_after("slow", 10.0)
        await settle()
        queue.add_after("fast", 1.0)
        await advance(clock, 1.0)
        assert await ready_keys(queue) == ["fast"]
        await advance(clock, 9.0)
        assert await ready_keys(queue) == ["slow"]

    async def test_keys_whose_deadlines_pass_together_are_added_in_deadline_order_ties_in_call_order(
        self, queue: DelayingQueue[str], clock: FakeClock
    ) -> None:
        queue.add_after("c", 3.0)
        queue.add_after("tie-1", 2.0)
        queue.add_after("a", 1.0)
        queue.add_after("tie-2", 2.0)
        queue.add_after("tie-0", 4.0)
        queue.add_after("tie-0", 2.0)  # this call sets its deadline, so it ties after tie-2
        await advance(clock, 3.0)
        assert await ready_keys(queue) == ["a", "tie-1", "tie-2", "tie-0", "c"]

    async def test_a_superseded_deadline_does_not_change_the_tie_order_of_a_later_call(
        self, queue: DelayingQueue[str], clock: FakeClock
    ) -> None:
        queue.add_after("k", 5.0)
        queue.add_after("blocker", 3.0)
        queue.add_after("k", 1.0)  # supersedes the 5 s deadline
        await advance(clock, 1.0)
        assert await ready_keys(queue) == ["k"]
        queue.add_after("j", 4.0)
        queue.add_after("k", 4.0)  # due with j and with k's superseded deadline, and called last
        await advance(clock, 4.0)
        assert await ready_keys(queue) == ["blocker", "j", "k"]

    async def test_after_shutdown_add_after_is_a_no_op_waiting_keys_are_dropped_and_the_task_is_stopped(
        self, clock: FakeClock
    ) -> None:
        queue = DelayingQueue[str](clock=clock)
        queue.add_after("waiting", 1.0)
        await settle()
        assert clock.sleepers == 1
        queue.shutdown()
        queue.add_after("late", 0.0)
        await advance(clock, 5.0)
        assert len(queue) == 0
        assert clock.sleepers == 0
        await queue.aclose()
        with pytest.raises(ShutDown):
            await queue.get()

    async def test_delayed_key_collapses_with_a_waiting_copy_of_itself(
        self, queue: DelayingQueue[str], clock: FakeClock
    ) -> None:
        queue.add("k")
        queue.add_after("k", 1.0)
        await advance(clock, 1.0)
        assert await ready_keys(queue) == ["k"]

    async def test_delayed_key_added_while_being_processed_is_handed_out_after_done(
        self, queue: DelayingQueue[str], clock: FakeClock
    ) -> None:
        queue.add("k")
        key = await queue.get()
        queue.add_after(key, 1.0)  # what a reconcile returning requeue_after does
        await advance(clock, 1.0)
        assert len(queue) == 0
        queue.done(key)
        assert await ready_keys(queue) == ["k"]


def queue_tasks() -> list[str]:
    """Names of the queue tasks still running: what a leak would leave behind."""
    return sorted(
        task.get_name() for task in asyncio.all_tasks() if task.get_name().startswith("workqueue-") and not task.done()
    )


class TestBackgroundTask:
    async def test_async_with_starts_the_task_and_leaving_awaits_it(self, clock: FakeClock) -> None:
        async with DelayingQueue[str](name="owned", clock=clock):
            await settle()
            assert queue_tasks() == ["workqueue-owned"]
        assert queue_tasks() == []

    async def test_first_add_after_with_a_delay_starts_the_task(self, clock: FakeClock) -> None:
        queue = DelayingQueue[str](name="lazy", clock=clock)
        queue.add_after("now", 0.0)
        assert queue_tasks() == []
        queue.add_after("later", 1.0)
        assert queue_tasks() == ["workqueue-lazy"]
        await queue.aclose()
        assert queue_tasks() == []

    def test_add_after_outside_the_event_loop_raises_and_schedules_nothing(self, clock: FakeClock) -> None:
        queue = DelayingQueue[str](clock=clock)
        with pytest.raises(RuntimeError, match="event loop"):
            queue.add_after("k", 1.0)
        queue.shutdown()

    async def test_start_is_idempotent_and_a_no_op_after_shutdown(self, clock: FakeClock) -> None:
        queue = DelayingQueue[str](name="started", clock=clock)
        queue.start()
        queue.start()
        assert queue_tasks() == ["workqueue-started"]
        await queue.aclose()
        queue.start()
        assert queue_tasks() == []

    async def test_shutdown_with_drain_waits_for_processing_then_awaits_the_task(self, clock: FakeClock) -> None:
        queue = DelayingQueue[str](name="drained", clock=clock)
        queue.start()
        queue.add("k")
        key = await queue.get()
        drain = asyncio.create_task(queue.shutdown_with_drain())
        await settle()
        assert not drain.done()
        queue.done(key)
        await drain
        assert queue_tasks() == []

    async def test_idle_task_does_not_sleep_on_the_clock(self, queue: DelayingQueue[str], clock: FakeClock) -> None:
        await settle()
        assert clock.sleepers == 0
        queue.add_after("k", 1.0)
        await settle()
        assert clock.sleepers == 1
        await advance(clock, 1.0)
        assert clock.sleepers == 0


class TestMetrics:
    async def test_every_accepted_add_after_counts_a_retry(self, clock: FakeClock) -> None:
        metrics = RecordingMetrics()
        async with DelayingQueue[str](clock=clock, metrics=metrics) as queue:
            queue.add_after("a", 0.0)
            queue.add_after("b", 1.0)
            queue.add_after("b", 2.0)
        queue.add_after("c", 1.0)
        assert metrics.retries == 3

    async def test_unfinished_work_is_reported_every_half_second_while_the_task_runs(self, clock: FakeClock) -> None:
        metrics = RecordingMetrics()
        async with DelayingQueue[str](clock=clock, metrics=metrics) as queue:
            queue.add("k")
            await queue.get()
            await settle()
            await advance(clock, 0.5)
            await advance(clock, 0.5)
            queue.done("k")
        assert metrics.unfinished_reports == [(0.0, 0.0), (0.5, 0.5), (1.0, 1.0)]
