"""The worker loop: each reconcile outcome becomes the right queue move, log lines and metrics."""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from rayservice.api import ObjectKey
from rayservice.kube import (
    AlreadyExists,
    Conflict,
    KubeTransportError,
    NotLeader,
    ServerError,
    TooManyRequests,
)
from rayservice.queue import ItemExponential, RateLimitingQueue
from rayservice.runtime import DONE, Result, TerminalError, reconcile_key, run_worker
from rayservice.testing import FakeClock, settle

KEY = ObjectKey("default", "a")


class RecordingQueue:
    """A WorkerQueue that records the calls a worker makes."""

    def __init__(self, *keys: ObjectKey) -> None:
        self.calls: list[tuple[str, ObjectKey] | tuple[str, ObjectKey, float]] = []
        self._keys = list(keys)

    async def get(self) -> ObjectKey:
        from rayservice.queue import ShutDown

        if not self._keys:
            raise ShutDown
        return self._keys.pop(0)

    def done(self, key: ObjectKey) -> None:
        self.calls.append(("done", key))

    def forget(self, key: ObjectKey) -> None:
        self.calls.append(("forget", key))

    def add_after(self, key: ObjectKey, delay_s: float) -> None:
        self.calls.append(("add_after", key, delay_s))

    def add_rate_limited(self, key: ObjectKey) -> None:
        self.calls.append(("add_rate_limited", key))


class RecordingMetrics:
    def __init__(self) -> None:
        self.reconciles: list[tuple[str, str, float]] = []

    def reconciled(self, controller: str, result: str, duration_s: float) -> None:
        self.reconciles.append((controller, result, duration_s))

    def active_workers(self, controller: str, count: int) -> None:
        pass

    def max_workers(self, controller: str, count: int) -> None:
        pass


def returning(result: Result) -> Callable[[ObjectKey], Awaitable[Result]]:
    async def reconcile(key: ObjectKey) -> Result:
        return result

    return reconcile


def raising(error: BaseException) -> Callable[[ObjectKey], Awaitable[Result]]:
    async def reconcile(key: ObjectKey) -> Result:
        raise error

    return reconcile


async def run_one(
    reconcile: Callable[[ObjectKey], Awaitable[Result]],
) -> tuple[RecordingQueue, list[MutableMapping[str, Any]]]:
    queue = RecordingQueue(KEY)
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        await run_worker(queue, reconcile, controller="things")
    return queue, logs


class TestOutcomes:
    async def test_done_forgets_the_key_and_does_not_requeue_it(self) -> None:
        queue, logs = await run_one(returning(DONE))
        assert queue.calls == [("forget", KEY), ("done", KEY)]
        assert [log for log in logs if log["log_level"] != "debug"] == []

    async def test_requeue_after_forgets_the_key_then_adds_it_after_the_duration(self) -> None:
        queue, _ = await run_one(returning(Result(requeue_after_s=30.0)))
        assert queue.calls == [("forget", KEY), ("add_after", KEY, 30.0), ("done", KEY)]

    async def test_conflict_requeues_rate_limited_and_logs_at_debug_level_only(self) -> None:
        queue, logs = await run_one(raising(Conflict(409, "Conflict", "the object has been modified")))
        assert queue.calls == [("add_rate_limited", KEY), ("done", KEY)]
        assert [log["log_level"] for log in logs] == ["debug"]
        assert logs[0]["event"] == "reconcile_conflict"

    async def test_any_other_exception_requeues_rate_limited_and_logs_an_error_with_the_traceback(self) -> None:
        queue, logs = await run_one(raising(KeyError("spec")))
        assert queue.calls == [("add_rate_limited", KEY), ("done", KEY)]
        (error,) = logs
        assert error["log_level"] == "error"
        assert error["event"] == "reconcile_failed"
        assert error["exc_info"] is True
        assert "spec" in str(error["error"])

    @pytest.mark.parametrize(
        "error",
        [
            ServerError(500, "InternalError", "etcd is down"),
            TooManyRequests(429, "TooManyRequests", "slow down", retry_after_s=1.0),
            KubeTransportError("TimeoutError: no answer within 30 s"),
            TimeoutError("no answer within 30 s"),
        ],
        ids=["500", "429", "transport", "timeout"],
    )
    async def test_a_transient_api_error_requeues_rate_limited_with_one_warning_and_no_traceback(
        self, error: Exception
    ) -> None:
        queue, logs = await run_one(raising(error))
        assert queue.calls == [("add_rate_limited", KEY), ("done", KEY)]
        (warning,) = logs
        assert (warning["log_level"], warning["event"]) == ("warning", "reconcile_failed_transiently")
        assert "exc_info" not in warning
        assert str(error) in warning["error"] and warning["key"] == str(KEY)
        assert warning["error_type"] == type(error).__name__

    @pytest.mark.parametrize(
        "error",
        [AlreadyExists(409, "AlreadyExists", "pods exists"), NotLeader("create pods: not sent, not the leader")],
        ids=["already-exists", "not-leader"],
    )
    async def test_a_409_or_a_write_fenced_off_after_a_lost_lease_requeues_quietly_at_debug(
        self, error: Exception
    ) -> None:
        queue, logs = await run_one(raising(error))
        assert queue.calls == [("add_rate_limited", KEY), ("done", KEY)]
        assert [log["log_level"] for log in logs] == ["debug"]

    async def test_a_terminal_error_forgets_the_key_and_is_not_retried(self) -> None:
        queue, logs = await run_one(raising(TerminalError("spec.rayClusterConfig is missing")))
        assert queue.calls == [("forget", KEY), ("done", KEY)]
        assert [(log["log_level"], log["event"]) for log in logs] == [("error", "reconcile_failed_terminally")]

    async def test_a_cancelled_reconcile_is_marked_done_and_not_retried(self) -> None:
        queue = RecordingQueue(KEY)
        started = asyncio.Event()

        async def hang(key: ObjectKey) -> Result:
            started.set()
            await asyncio.Event().wait()
            return DONE

        worker = asyncio.create_task(run_worker(queue, hang, controller="things"))
        await started.wait()
        worker.cancel()
        with pytest.raises(asyncio.CancelledError):
            await worker
        assert queue.calls == [("done", KEY)]

    async def test_the_worker_returns_once_the_queue_is_shut_down_and_empty(self) -> None:
        queue = RecordingQueue(KEY, ObjectKey("default", "b"))
        await run_worker(queue, returning(DONE), controller="things")
        assert [call for call in queue.calls if call[0] == "done"] == [
            ("done", KEY),
            ("done", ObjectKey("default", "b")),
        ]


class TestLogsAndMetrics:
    async def test_every_log_line_of_a_reconcile_carries_controller_key_and_a_fresh_reconcile_id(self) -> None:
        log = structlog.get_logger("test")

        async def chatty(key: ObjectKey) -> Result:
            log.info("step_one")
            log.info("step_two")
            return DONE

        queue = RecordingQueue(KEY, KEY)
        with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
            await run_worker(queue, chatty, controller="things")
            log.info("outside")
        steps = [entry for entry in logs if entry["event"].startswith("step_")]
        assert len(steps) == 4
        assert all(entry["controller"] == "things" and entry["key"] == "default/a" for entry in steps)
        assert steps[0]["reconcile_id"] == steps[1]["reconcile_id"] != steps[2]["reconcile_id"]
        assert steps[2]["reconcile_id"] == steps[3]["reconcile_id"]
        (outside,) = [entry for entry in logs if entry["event"] == "outside"]
        assert "controller" not in outside and "reconcile_id" not in outside

    @pytest.mark.parametrize(
        ("reconcile", "label"),
        [
            (returning(DONE), "success"),
            (returning(Result(requeue_after_s=1.0)), "requeue_after"),
            (raising(Conflict(409, "Conflict", "stale")), "requeue"),
            (raising(ValueError("bug")), "error"),
            (raising(TerminalError("invalid")), "error"),
        ],
    )
    async def test_each_reconcile_is_counted_once_under_its_result_label_and_timed_on_the_clock(
        self, reconcile: Callable[[ObjectKey], Awaitable[Result]], label: str
    ) -> None:
        clock = FakeClock()
        metrics = RecordingMetrics()

        async def slow(key: ObjectKey) -> Result:
            clock.step(0.25)
            return await reconcile(key)

        with capture_logs():
            outcome = await reconcile_key(
                RecordingQueue(), slow, KEY, controller="things", clock=clock, metrics=metrics
            )
        assert outcome == label
        assert metrics.reconciles == [("things", label, 0.25)]


class TestWithTheRealQueue:
    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    async def queue(self, clock: FakeClock) -> AsyncIterator[RateLimitingQueue[ObjectKey]]:
        limiter = ItemExponential(base_s=1.0, max_s=8.0)
        async with RateLimitingQueue[ObjectKey](name="things", clock=clock, rate_limiter=limiter) as queue:
            yield queue

    async def test_a_failing_key_is_retried_with_growing_backoff_and_reset_by_a_success(
        self, queue: RateLimitingQueue[ObjectKey], clock: FakeClock
    ) -> None:
        attempts: list[float] = []
        failures = 3

        async def flaky(key: ObjectKey) -> Result:
            attempts.append(clock.monotonic())
            if len(attempts) <= failures:
                raise ServerError(503, "ServiceUnavailable", "try later")
            return DONE

        queue.add(KEY)
        with capture_logs():
            worker = asyncio.create_task(run_worker(queue, flaky, controller="things"))
            await settle()
            for _ in range(20):
                clock.step(0.5)
                await settle()
            queue.shutdown()
            await worker
        assert [b - a for a, b in itertools.pairwise(attempts)] == [1.0, 2.0, 4.0]
        assert len(attempts) == failures + 1
        assert queue.num_requeues(KEY) == 0

    async def test_requeue_after_hands_the_key_out_again_once_the_duration_passed_and_not_before(
        self, queue: RateLimitingQueue[ObjectKey], clock: FakeClock
    ) -> None:
        seen: list[float] = []

        async def periodic(key: ObjectKey) -> Result:
            seen.append(clock.monotonic())
            return Result(requeue_after_s=10.0)

        queue.add(KEY)
        worker = asyncio.create_task(run_worker(queue, periodic, controller="things"))
        await settle()
        clock.step(9.5)
        await settle()
        assert seen == [0.0]
        clock.step(0.5)
        await settle()
        assert seen == [0.0, 10.0]
        queue.shutdown()
        await worker


@pytest.mark.parametrize("delay", [-1.0, math.inf, math.nan])
def test_result_refuses_a_negative_or_non_finite_delay(delay: float) -> None:
    with pytest.raises(ValueError, match="requeue_after_s"):
        Result(requeue_after_s=delay)


def test_done_is_a_result_without_a_requeue() -> None:
    assert DONE == Result() and DONE.requeue_after_s is None
