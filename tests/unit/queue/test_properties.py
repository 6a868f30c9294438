"""Property tests: the queues and limiters against simple models, on a FakeClock."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from rayservice.queue import DelayingQueue, ItemExponential, RateLimitingQueue, ShutDown, TokenBucket, WorkQueue
from rayservice.testing import FakeClock, settle

T = TypeVar("T")

KEYS = st.sampled_from("abcd")
DELAYS = st.sampled_from([-1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0])
STEPS = st.sampled_from([0.0, 0.5, 1.0, 2.5])
BASE_S, MAX_S = 0.5, 4.0


def run(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    return loop.run_until_complete(coro)


class RateLimitingQueueMachine(RuleBasedStateMachine):
    """Drives a RateLimitingQueue and a plain-Python model with the same operations."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = FakeClock()
        limiter = ItemExponential(base_s=BASE_S, max_s=MAX_S)
        self.queue = RateLimitingQueue[str](name="model", clock=self.clock, rate_limiter=limiter)
        self.ready: list[str] = []
        self.dirty: set[str] = set()
        self.processing: set[str] = set()
        self.deadlines: dict[str, tuple[float, int]] = {}
        self.pushes = itertools.count()
        self.failures: Counter[str] = Counter()
        self.now = 0.0

    def call(self, operation: Callable[[], T]) -> T:
        """Run a synchronous queue operation inside the loop, as workers and handlers do."""

        async def inside() -> T:
            return operation()

        return run(self.loop, inside())

    def model_add(self, key: str) -> None:
        if key in self.dirty:
            return
        self.dirty.add(key)
        if key not in self.processing:
            self.ready.append(key)

    def model_add_after(self, key: str, delay_s: float) -> None:
        if delay_s <= 0:
            self.model_add(key)
            return
        ready_at = self.now + delay_s
        current = self.deadlines.get(key)
        if current is None or ready_at < current[0]:
            self.deadlines[key] = (ready_at, next(self.pushes))

    def model_step(self, seconds: float) -> None:
        self.now += seconds
        due = sorted((deadline, key) for key, deadline in self.deadlines.items() if deadline[0] <= self.now)
        for _, key in due:
            del self.deadlines[key]
            self.model_add(key)

    def finish(self, key: str) -> None:
        self.call(lambda: self.queue.done(key))
        self.processing.remove(key)
        if key in self.dirty:
            self.ready.append(key)

    @rule(key=KEYS)
    def add(self, key: str) -> None:
        self.call(lambda: self.queue.add(key))
        self.model_add(key)

    @rule(key=KEYS, delay_s=DELAYS)
    def add_after(self, key: str, delay_s: float) -> None:
        self.call(lambda: self.queue.add_after(key, delay_s))
        self.model_add_after(key, delay_s)

    @rule(key=KEYS)
    def add_rate_limited(self, key: str) -> None:
        self.call(lambda: self.queue.add_rate_limited(key))
        delay_s = min(BASE_S * 2.0 ** self.failures[key], MAX_S)
        self.failures[key] += 1
        self.model_add_after(key, delay_s)

    @rule(key=KEYS)
    def forget(self, key: str) -> None:
        self.call(lambda: self.queue.forget(key))
        self.failures[key] = 0

    @precondition(lambda self: self.ready)
    @rule()
    def get(self) -> None:
        assert len(self.queue) == len(self.ready)
        key = run(self.loop, self.queue.get())
        assert key == self.ready.pop(0), "FIFO among ready keys"
        assert key not in self.processing, "a key is never handed to two workers at once"
        self.dirty.remove(key)
        self.processing.add(key)

    @precondition(lambda self: not self.ready)
    @rule()
    def get_waits_when_nothing_is_ready(self) -> None:
        async def try_get() -> bool:
            worker = asyncio.create_task(self.queue.get())
            await settle()
            worker.cancel()
            await asyncio.wait((worker,))
            return worker.cancelled()

        assert run(self.loop, try_get()), "no key may be handed out while the model has none ready"

    @precondition(lambda self: self.processing)
    @rule(data=st.data())
    def done(self, data: st.DataObject) -> None:
        self.finish(data.draw(st.sampled_from(sorted(self.processing))))

    @rule(seconds=STEPS)
    def step(self, seconds: float) -> None:
        self.clock.step(seconds)
        run(self.loop, settle())
        self.model_step(seconds)

    @rule()
    def no_key_is_lost(self) -> None:
        """Finish all work and let every deadline pass: every key owed is handed out, once per owing."""
        for key in sorted(self.processing):
            self.finish(key)
        self.step(MAX_S * 10)
        while self.ready:
            self.get()
            for key in sorted(self.processing):
                self.finish(key)
        assert not (self.dirty or self.processing or self.deadlines)
        assert len(self.queue) == 0

    @invariant()
    def ready_keys_match_the_model(self) -> None:
        assert len(self.queue) == len(self.ready)

    @invariant()
    def requeues_match_the_model(self) -> None:
        for key in "abcd":
            assert self.queue.num_requeues(key) == self.failures[key]

    def teardown(self) -> None:
        try:
            run(self.loop, self.queue.aclose())
        finally:
            self.loop.close()


TestRateLimitingQueueAgainstModel = RateLimitingQueueMachine.TestCase
TestRateLimitingQueueAgainstModel.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)


@given(failures=st.lists(st.sampled_from(["fail", "fail", "fail", "forget"]), max_size=40))
def test_backoff_grows_exponentially_and_resets_on_forget(failures: list[str]) -> None:
    limiter = ItemExponential(base_s=0.005, max_s=1000.0)
    streak = 0
    for event in failures:
        if event == "forget":
            limiter.forget("k")
            streak = 0
            continue
        assert limiter.when("k") == min(0.005 * 2**streak, 1000.0)
        streak += 1
        assert limiter.num_requeues("k") == streak


@given(
    calls=st.lists(st.tuples(st.sampled_from([0.0, 0.01, 0.1, 1.0]), st.integers(1, 30)), max_size=20),
    qps=st.sampled_from([1.0, 10.0, 100.0]),
    burst=st.integers(1, 20),
)
def test_token_bucket_never_grants_more_than_burst_plus_qps_per_second(
    calls: list[tuple[float, int]], qps: float, burst: int
) -> None:
    clock = FakeClock()
    bucket = TokenBucket(qps=qps, burst=burst, clock=clock)
    granted_at: list[float] = []
    for pause_s, count in calls:
        clock.step(pause_s)
        granted_at.extend(clock.monotonic() + bucket.when("k") for _ in range(count))
    assert granted_at == sorted(granted_at), "tokens are granted in the order they were reserved"
    for index, at in enumerate(granted_at):
        assert index + 1 <= burst + qps * at + 1e-6


@given(plan=st.lists(st.tuples(KEYS, st.sampled_from([0.5, 1.0, 2.0, 3.0])), min_size=1, max_size=12))
def test_add_after_earliest_deadline_wins(plan: list[tuple[str, float]]) -> None:
    earliest: dict[str, float] = {}
    for key, delay_s in plan:
        earliest[key] = min(earliest.get(key, delay_s), delay_s)

    async def scenario() -> dict[str, float]:
        clock = FakeClock()
        added_at: dict[str, float] = {}
        async with DelayingQueue[str](clock=clock) as queue:
            for key, delay_s in plan:
                queue.add_after(key, delay_s)
            for _ in range(8):
                await settle()
                while len(queue):
                    key = await queue.get()
                    assert key not in added_at, "a key added after several times is added once"
                    added_at[key] = clock.monotonic()
                    queue.done(key)
                clock.step(0.5)
        return added_at

    assert run_in_new_loop(scenario()) == earliest


@given(
    plan=st.lists(st.tuples(KEYS, st.integers(0, 3)), min_size=1, max_size=25),
    work_yields=st.lists(st.integers(0, 4), min_size=1, max_size=8),
    workers=st.integers(1, 4),
)
def test_workers_never_process_a_key_concurrently_and_every_add_is_honoured(
    plan: list[tuple[str, int]], work_yields: list[int], workers: int
) -> None:
    """Concurrent producers and workers; every add is followed by a processing start of its key."""

    async def scenario() -> None:
        queue = WorkQueue[str]()
        tick = itertools.count()
        last_add: dict[str, int] = {}
        last_start: dict[str, int] = {}
        active: set[str] = set()
        pauses = itertools.cycle(work_yields)

        async def produce() -> None:
            for key, pause in plan:
                for _ in range(pause):
                    await asyncio.sleep(0)
                last_add[key] = next(tick)
                queue.add(key)

        async def work() -> None:
            while True:
                try:
                    key = await queue.get()
                except ShutDown:
                    return
                assert key not in active, "a key is never handed to two workers at once"
                active.add(key)
                last_start[key] = next(tick)
                for _ in range(next(pauses)):
                    await asyncio.sleep(0)
                active.remove(key)
                queue.done(key)

        async with asyncio.TaskGroup() as tasks:
            for _ in range(workers):
                tasks.create_task(work())
            await produce()
            queue.shutdown()
        for key, added in last_add.items():
            assert last_start[key] > added, f"the last add of {key!r} was never processed"

    run_in_new_loop(scenario())


def run_in_new_loop(coro: Coroutine[Any, Any, T]) -> T:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()
