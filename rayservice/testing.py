"""Test doubles shipped with the package: a clock that moves only when a test moves it.

Guarantees:
1. Time never passes by itself: ``monotonic()`` and ``now()`` change only in ``step()``, and together.
2. ``step(s)`` wakes every sleeper whose deadline is at or before the new time, earliest deadline first
   (ties in the order they started sleeping). ``step`` is synchronous: the woken coroutines run at the
   event loop's next iterations, which ``await settle()`` lets happen.
3. A sleeper that is cancelled is forgotten at once: it no longer counts in ``sleepers``.
4. ``sleep(s)`` with ``s <= 0`` yields once and returns without waiting for a ``step``.

Caller must:
- call ``sleep`` from a task on a running event loop, and ``step`` from that loop's thread.

Only tests import this module; nothing in the operator does.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

DEFAULT_START_NOW: Final = datetime(2025, 1, 1, tzinfo=UTC)

_SETTLE_ROUNDS: Final = 50


@dataclass(order=True)
class _Sleeper:
    deadline: float
    seq: int
    future: asyncio.Future[None] = field(compare=False)


class FakeClock:
    """A ``rayservice.clock.Clock`` whose time advances only in ``step()``."""

    def __init__(self, *, start_monotonic: float = 0.0, start_now: datetime = DEFAULT_START_NOW) -> None:
        if start_now.utcoffset() is None:
            raise ValueError("start_now must be an aware datetime")
        self._start_monotonic = start_monotonic
        self._monotonic = start_monotonic
        self._start_now = start_now.astimezone(UTC)
        self._sleepers: list[_Sleeper] = []
        self._seq = itertools.count()

    def monotonic(self) -> float:
        return self._monotonic

    def now(self) -> datetime:
        return self._start_now + timedelta(seconds=self._monotonic - self._start_monotonic)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        sleeper = _Sleeper(self._monotonic + seconds, next(self._seq), asyncio.get_running_loop().create_future())
        heapq.heappush(self._sleepers, sleeper)
        try:
            await sleeper.future
        finally:
            if sleeper in self._sleepers:
                self._sleepers.remove(sleeper)
                heapq.heapify(self._sleepers)

    @property
    def sleepers(self) -> int:
        """How many tasks are sleeping on this clock right now."""
        return len(self._sleepers)

    def step(self, seconds: float) -> None:
        """Advance both clocks by ``seconds`` and wake the sleepers whose deadline passed."""
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self._monotonic += seconds
        while self._sleepers and self._sleepers[0].deadline <= self._monotonic:
            sleeper = heapq.heappop(self._sleepers)
            if not sleeper.future.done():
                sleeper.future.set_result(None)

    def __repr__(self) -> str:
        return f"FakeClock(monotonic={self._monotonic!r}, sleepers={len(self._sleepers)})"


async def settle(rounds: int = _SETTLE_ROUNDS) -> None:
    """Let the event loop run everything that is ready, without letting any time pass.

    A fixed number of iterations: enough for the chains of futures and tasks in this package
    (a clock wakes a timer task, which wakes a queue's task, which wakes a ``get()``).
    """
    for _ in range(rounds):
        await asyncio.sleep(0)
