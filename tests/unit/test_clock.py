"""The system clock and the fake one tests step."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest

from rayservice.clock import SYSTEM_CLOCK, Clock, SystemClock
from rayservice.testing import DEFAULT_START_NOW, FakeClock, settle


class TestSystemClock:
    def test_monotonic_never_goes_backwards(self) -> None:
        readings = [SYSTEM_CLOCK.monotonic() for _ in range(1000)]
        assert readings == sorted(readings)

    def test_now_is_an_aware_datetime_in_utc(self) -> None:
        now = SystemClock().now()
        assert now.tzinfo is UTC

    async def test_sleep_with_a_non_positive_delay_only_yields(self) -> None:
        await SYSTEM_CLOCK.sleep(0)
        await SYSTEM_CLOCK.sleep(-1)

    def test_the_default_clock_is_a_system_clock(self) -> None:
        clock: Clock = SYSTEM_CLOCK
        assert isinstance(clock, SystemClock)
        assert repr(clock) == "SystemClock()"


class TestFakeClock:
    def test_time_never_passes_by_itself(self) -> None:
        clock = FakeClock(start_monotonic=5.0)
        assert clock.monotonic() == 5.0
        assert clock.now() == DEFAULT_START_NOW

    def test_step_moves_monotonic_and_now_together(self) -> None:
        start = datetime(2030, 6, 1, 12, tzinfo=UTC)
        clock = FakeClock(start_monotonic=100.0, start_now=start)
        clock.step(2.5)
        assert clock.monotonic() == 102.5
        assert clock.now() == start + timedelta(seconds=2.5)

    def test_now_is_in_utc_even_when_started_in_another_zone(self) -> None:
        start = datetime(2030, 6, 1, 14, tzinfo=timezone(timedelta(hours=2)))
        now = FakeClock(start_now=start).now()
        assert now.tzinfo is UTC
        assert now == start

    def test_a_naive_start_is_rejected(self) -> None:
        with pytest.raises(ValueError, match="aware"):
            FakeClock(start_now=datetime(2030, 1, 1))

    def test_step_refuses_to_go_backwards(self) -> None:
        with pytest.raises(ValueError, match="backwards"):
            FakeClock().step(-1.0)

    async def test_step_wakes_every_sleeper_whose_deadline_passed(self) -> None:
        clock = FakeClock()
        woken: list[float] = []

        async def sleeper(seconds: float) -> None:
            await clock.sleep(seconds)
            woken.append(seconds)

        async with asyncio.TaskGroup() as tasks:
            for seconds in (3.0, 1.0, 2.0):
                tasks.create_task(sleeper(seconds))
            await settle()
            assert clock.sleepers == 3
            clock.step(1.999)
            await settle()
            assert woken == [1.0]
            clock.step(1.001)
            assert woken == [1.0], "woken coroutines run at the next loop iterations, not inside step"
            await settle()
            assert woken == [1.0, 2.0, 3.0]
            assert clock.sleepers == 0

    async def test_sleepers_woken_together_run_earliest_deadline_first_ties_in_start_order(self) -> None:
        clock = FakeClock()
        woken: list[str] = []

        async def sleeper(name: str, seconds: float) -> None:
            await clock.sleep(seconds)
            woken.append(name)

        async with asyncio.TaskGroup() as tasks:
            for name, seconds in (("late", 2.0), ("tie-1", 1.0), ("tie-2", 1.0), ("early", 0.5)):
                tasks.create_task(sleeper(name, seconds))
            await settle()
            clock.step(5.0)
        assert woken == ["early", "tie-1", "tie-2", "late"]

    async def test_a_cancelled_sleeper_is_forgotten_at_once(self) -> None:
        clock = FakeClock()
        task = asyncio.create_task(clock.sleep(1.0))
        await settle()
        assert clock.sleepers == 1
        task.cancel()
        await asyncio.wait((task,))
        assert task.cancelled()
        assert clock.sleepers == 0

    async def test_sleep_with_a_non_positive_delay_returns_without_a_step(self) -> None:
        clock = FakeClock()
        await clock.sleep(0)
        await clock.sleep(-3)
        assert clock.sleepers == 0
        assert clock.monotonic() == 0.0

    def test_a_fake_clock_is_a_clock(self) -> None:
        clock: Clock = FakeClock()
        assert "FakeClock(monotonic=0.0" in repr(clock)
