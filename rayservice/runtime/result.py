"""What a reconcile returns: done, or come back after a while; and the error that must not be retried.

Guarantees:
1. ``Result`` is immutable and compares by value; ``DONE`` (no ``requeue_after_s``) means the object is
   converged as far as this reconcile can tell: the next change event wakes it again.
2. ``Result(requeue_after_s=s)`` asks for another reconcile of the same key ``s`` seconds later, without
   counting as a failure (the key's backoff is reset). ``s`` must be finite and not negative.
3. Raising ``TerminalError`` reports a failure that retrying cannot fix (an invalid spec, say): it is
   logged and counted as an error, and the key is not retried until its object changes.

There is deliberately no boolean "requeue" flag: waiting is a duration, and backoff is for failures
(raise any other exception to get a rate-limited retry).

Pure: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome of one successful reconcile."""

    requeue_after_s: float | None = None

    def __post_init__(self) -> None:
        delay = self.requeue_after_s
        if delay is not None and (not math.isfinite(delay) or delay < 0):
            raise ValueError(f"requeue_after_s must be a finite number of seconds >= 0, got {delay!r}")


DONE: Final = Result()
"""Converged: reconcile again only when something changes."""


class TerminalError(Exception):
    """A reconcile failure that retrying cannot fix; the key is forgotten instead of retried."""
