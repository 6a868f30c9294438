"""Time for the operator: the ``Clock`` every component receives, and the real one.

Guarantees:
1. ``monotonic()`` never goes backwards; durations and deadlines are measured with it.
2. ``now()`` is an aware datetime in UTC; it is for timestamps people and the API server see.
3. ``sleep(s)`` returns once ``s`` seconds of ``monotonic()`` time have passed (within the clock's
   resolution); ``s <= 0`` only yields to the event loop.

Not guaranteed:
- that ``now()`` and ``monotonic()`` advance together: the wall clock may be stepped.

This is the only module that reads the system clock or sleeps with a delay. Everything else takes a
``Clock`` argument, so tests pass ``rayservice.testing.FakeClock`` and never sleep for real.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Final, Protocol, final


class Clock(Protocol):
    """The time source components depend on."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards; only differences are meaningful."""
        ...

    def now(self) -> datetime:
        """The current wall-clock time, aware, in UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Suspend the calling task for ``seconds`` of ``monotonic()`` time."""
        ...


@final
class SystemClock:
    """The process's real clocks; stateless, so one instance can be shared."""

    __slots__ = ()

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK: Final[Clock] = SystemClock()
"""The default for every ``clock=`` keyword argument."""
