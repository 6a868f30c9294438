"""One wake-up signal for integration tests: callbacks notify it, waiters re-check their condition until a deadline."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable


class Signal:
    """Wakes waiters whenever something happened; they re-check their condition, within a deadline.

    ``poll_s`` also re-checks every so often, for conditions nothing announces. A missed deadline fails the test
    with an ``AssertionError`` naming it.
    """

    def __init__(self, deadline_s: float = 10.0) -> None:
        self.deadline_s = deadline_s
        self._event = asyncio.Event()

    def notify(self, *_: object) -> None:
        self._event.set()

    async def until(
        self, predicate: Callable[[], bool], *, deadline_s: float | None = None, poll_s: float | None = None
    ) -> None:
        """Return once ``predicate()`` holds."""
        limit = self.deadline_s if deadline_s is None else deadline_s
        try:
            async with asyncio.timeout(limit):
                while not predicate():
                    self._event.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(poll_s):
                            await self._event.wait()
        except TimeoutError:
            raise AssertionError(f"condition not reached within {limit} s") from None
