"""WorkQueue: FIFO, one worker per key, collapsing adds, re-adds during processing, shutdown."""

from __future__ import annotations

import asyncio
import re

import pytest

import rayservice.queue
from rayservice.queue import NO_METRICS, QueueMetrics, ShutDown, WorkQueue
from rayservice.testing import FakeClock, settle


class RecordingMetrics:
    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def added(self, queue: str, depth: int) -> None:
        self.calls.append(("added", queue, depth))

    def started(self, queue: str, depth: int, queued_s: float) -> None:
        self.calls.append(("started", queue, depth, queued_s))

    def finished(self, queue: str, work_s: float) -> None:
        self.calls.append(("finished", queue, work_s))

    def unfinished(self, queue: str, unfinished_s: float, longest_s: float) -> None:
        self.calls.append(("unfinished", queue, unfinished_s, longest_s))

    def retried(self, queue: str) -> None:
        self.calls.append(("retried", queue))


async def drain_ready(queue: WorkQueue[str]) -> list[str]:
    """Take every ready key (without marking any done)."""
    return [await queue.get() for _ in range(len(queue))]


class TestGuarantees:
    async def test_fifo_among_ready_keys(self) -> None:
        queue = WorkQueue[str]()
        for key in ("b", "a", "c"):
            queue.add(key)
        assert await drain_ready(queue) == ["b", "a", "c"]

    async def test_key_is_never_handed_to_two_workers_at_once(self) -> None:
        queue = WorkQueue[str]()
        queue.add("k")
        assert await queue.get() == "k"
        queue.add("k")
        second_worker = asyncio.create_task(queue.get())
        await settle()
        assert not second_worker.done()
        assert len(queue) == 0
        queue.done("k")
        assert await second_worker == "k"
        queue.done("k")

    async def test_adding_a_key_that_is_already_waiting_is_a_no_op(self) -> None:
        queue = WorkQueue[str]()
        queue.add("a")
        queue.add("b")
        queue.add("a")
        assert len(queue) == 2
        assert await drain_ready(queue) == ["a", "b"]

    async def test_key_added_while_being_processed_is_handed_out_once_more_after_done(self) -> None:
        queue = WorkQueue[str]()
        queue.add("k")
        key = await queue.get()
        queue.add("k")
        queue.add("k")
        queue.done(key)
        assert len(queue) == 1
        assert await queue.get() == "k"
        queue.done("k")
        assert len(queue) == 0

    async def test_key_re_added_during_processing_goes_behind_keys_that_were_ready(self) -> None:
        queue = WorkQueue[str]()
        queue.add("k")
        await queue.get()
        queue.add("k")
        queue.add("other")
        queue.done("k")
        assert await drain_ready(queue) == ["other", "k"]

    async def test_after_shutdown_add_is_ignored_and_get_hands_out_waiting_keys_then_raises_shut_down(
        self,
    ) -> None:
        queue = WorkQueue[str]()
        queue.add("a")
        queue.shutdown()
        queue.add("b")
        assert queue.shutting_down
        assert await queue.get() == "a"
        with pytest.raises(ShutDown):
            await queue.get()

    async def test_shutdown_raises_shut_down_to_every_get_already_waiting(self) -> None:
        queue = WorkQueue[str]()
        workers = [asyncio.create_task(queue.get()) for _ in range(3)]
        await settle()
        queue.shutdown()
        results = await asyncio.gather(*workers, return_exceptions=True)
        assert all(isinstance(result, ShutDown) for result in results)

    async def test_shutdown_with_drain_returns_once_no_key_is_being_processed(self) -> None:
        queue = WorkQueue[str]()
        queue.add("a")
        queue.add("b")
        a, b = await queue.get(), await queue.get()
        drain = asyncio.create_task(queue.shutdown_with_drain())
        await settle()
        queue.done(a)
        await settle()
        assert not drain.done()
        queue.done(b)
        await drain
        with pytest.raises(ShutDown):
            await queue.get()

    async def test_shutdown_with_drain_returns_at_once_when_nothing_is_processed(self) -> None:
        queue = WorkQueue[str]()
        await queue.shutdown_with_drain()
        assert queue.shutting_down

    async def test_shutdown_with_drain_returns_as_soon_as_shutdown_is_called(self) -> None:
        queue = WorkQueue[str]()
        queue.add("a")
        await queue.get()
        drain = asyncio.create_task(queue.shutdown_with_drain())
        await settle()
        assert not drain.done()
        queue.shutdown()
        await drain

    async def test_get_cancelled_after_it_was_woken_passes_the_wakeup_on(self) -> None:
        queue = WorkQueue[str]()
        first = asyncio.create_task(queue.get())
        second = asyncio.create_task(queue.get())
        await settle()
        queue.add("k")  # wakes the first waiter ...
        first.cancel()  # ... which is cancelled before it runs
        assert await second == "k"
        await asyncio.wait((first,))
        assert first.cancelled()
        queue.done("k")


class TestBehaviour:
    async def test_get_waits_until_a_key_is_added(self) -> None:
        queue = WorkQueue[str]()
        worker = asyncio.create_task(queue.get())
        await settle()
        assert not worker.done()
        queue.add("k")
        assert await worker == "k"
        queue.done("k")

    async def test_cancelled_waiting_get_leaves_no_waiter_behind(self) -> None:
        queue = WorkQueue[str]()
        worker = asyncio.create_task(queue.get())
        await settle()
        worker.cancel()
        await asyncio.wait((worker,))
        queue.add("k")
        assert await queue.get() == "k"

    async def test_done_for_a_key_not_being_processed_does_nothing(self) -> None:
        queue = WorkQueue[str]()
        queue.add("k")
        queue.done("k")
        queue.done("unknown")
        assert await drain_ready(queue) == ["k"]

    async def test_len_counts_only_ready_keys(self) -> None:
        queue = WorkQueue[str]()
        queue.add("a")
        queue.add("b")
        await queue.get()
        queue.add("a")  # waits for done(), not ready
        assert len(queue) == 1

    def test_keys_are_any_hashable(self) -> None:
        queue = WorkQueue[tuple[str, str]]()
        queue.add(("ns", "name"))
        assert len(queue) == 1


class TestMetrics:
    async def test_metrics_see_adds_depth_queue_and_work_durations_on_the_injected_clock(self) -> None:
        clock = FakeClock()
        metrics = RecordingMetrics()
        queue = WorkQueue[str](name="q", clock=clock, metrics=metrics)
        queue.add("a")
        queue.add("a")  # collapses: not counted
        queue.add("b")
        clock.step(2.0)
        assert await queue.get() == "a"
        clock.step(3.0)
        queue.done("a")
        assert metrics.calls == [
            ("added", "q", 1),
            ("added", "q", 2),
            ("started", "q", 1, 2.0),
            ("finished", "q", 3.0),
        ]

    async def test_queue_duration_of_a_key_re_added_while_processing_runs_from_that_add(self) -> None:
        clock = FakeClock()
        metrics = RecordingMetrics()
        queue = WorkQueue[str](name="q", clock=clock, metrics=metrics)
        queue.add("k")
        await queue.get()
        clock.step(1.0)
        queue.add("k")
        assert metrics.calls[-1:] == [("added", "q", 1)], "depth counts a key waiting for done()"
        clock.step(4.0)
        queue.done("k")
        await queue.get()
        assert metrics.calls[-1:] == [("started", "q", 0, 4.0)]

    async def test_report_unfinished_work_sums_ages_and_finds_the_longest(self) -> None:
        clock = FakeClock()
        metrics = RecordingMetrics()
        queue = WorkQueue[str](name="q", clock=clock, metrics=metrics)
        queue.report_unfinished_work()
        queue.add("a")
        await queue.get()
        clock.step(1.0)
        queue.add("b")
        await queue.get()
        clock.step(2.0)
        queue.report_unfinished_work()
        unfinished = [call for call in metrics.calls if call[0] == "unfinished"]
        assert unfinished == [("unfinished", "q", 0.0, 0.0), ("unfinished", "q", 5.0, 3.0)]

    def test_recording_metrics_and_no_metrics_satisfy_the_protocol(self) -> None:
        implementations: list[QueueMetrics] = [RecordingMetrics(), NO_METRICS]
        for metrics in implementations:
            metrics.added("q", 1)
            metrics.started("q", 0, 0.5)
            metrics.finished("q", 0.5)
            metrics.unfinished("q", 0.0, 0.0)
            metrics.retried("q")
        assert repr(NO_METRICS) == "NO_METRICS"


def _isort_style(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps ``__all__`` in: CONSTANTS, then Classes, then functions."""
    if re.fullmatch(r"[A-Z0-9_]+", name):
        return (0, name)
    return (1, name) if name[0].isupper() else (2, name)


def test_public_surface_is_complete_and_sorted() -> None:
    exported = rayservice.queue.__all__
    public = {
        name
        for name, value in vars(rayservice.queue).items()
        if not name.startswith("_") and not isinstance(value, type(rayservice.queue))
    }
    assert set(exported) == public
    assert exported == sorted(exported, key=_isort_style)
