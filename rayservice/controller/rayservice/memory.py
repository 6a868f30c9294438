"""What the operator remembers between passes about each Ray cluster it talks to, in this process only.

Nothing here is needed to continue an upgrade after a restart (that lives in the API server); it only saves
work and spaces retries: the config last PUT (so an identical config is not re-PUT while Ray applies it),
consecutive dashboard failures (the retry backoff) and since when a dashboard has been unreachable or had
nothing deployed (the ``deploymentUnhealthySecondThreshold`` clock, which a restart starts again: a later
replacement, never an earlier one).

Guarantees:
1. Entries are per cluster key (namespace, name); ``forget`` drops one at once, and at most ``limit`` are
   kept (the least recently touched go first), so deleted clusters never grow the memory without bound.
2. ``failed`` counts consecutive failures and returns the new count; ``succeeded`` resets it to 0.
3. ``unreachable_since`` keeps the first time a problem was reported until ``reachable`` clears it.
4. Times are what the caller passes: monotonic seconds for PUTs, wall-clock datetimes for the threshold.

Caller must: call every method from one event loop (a key is reconciled by one worker at a time).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from rayservice.api import ObjectKey
from rayservice.controller.rayservice.serve_diff import LastPut

DEFAULT_LIMIT: Final = 20_000


@dataclass(slots=True)
class _Entry:
    last_put: LastPut | None = None
    failures: int = 0
    unreachable_since: datetime | None = None


class ClusterMemory:
    """Per-cluster notes of the RayService reconciler (see the module docstring)."""

    def __init__(self, *, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError("limit must be positive")
        self._limit = limit
        self._entries: OrderedDict[ObjectKey, _Entry] = OrderedDict()

    def last_put(self, cluster: ObjectKey) -> LastPut | None:
        entry = self._entries.get(cluster)
        return entry.last_put if entry is not None else None

    def put_done(self, cluster: ObjectKey, last: LastPut) -> None:
        self._touch(cluster).last_put = last

    def failures(self, cluster: ObjectKey) -> int:
        entry = self._entries.get(cluster)
        return entry.failures if entry is not None else 0

    def failed(self, cluster: ObjectKey, now: datetime) -> int:
        """Count one more dashboard failure (guarantee 2); it also starts the unreachable clock."""
        entry = self._touch(cluster)
        entry.failures += 1
        if entry.unreachable_since is None:
            entry.unreachable_since = now
        return entry.failures

    def succeeded(self, cluster: ObjectKey) -> None:
        entry = self._entries.get(cluster)
        if entry is not None:
            entry.failures = 0

    def unreachable_since(self, cluster: ObjectKey) -> datetime | None:
        entry = self._entries.get(cluster)
        return entry.unreachable_since if entry is not None else None

    def unreachable(self, cluster: ObjectKey, now: datetime) -> None:
        """No usable dashboard (head not ready, or nothing deployed): the unreachable clock runs."""
        entry = self._touch(cluster)
        if entry.unreachable_since is None:
            entry.unreachable_since = now

    def reachable(self, cluster: ObjectKey) -> None:
        entry = self._entries.get(cluster)
        if entry is not None:
            entry.unreachable_since = None

    def forget(self, cluster: ObjectKey) -> None:
        self._entries.pop(cluster, None)

    def __len__(self) -> int:
        return len(self._entries)

    def _touch(self, cluster: ObjectKey) -> _Entry:
        entry = self._entries.pop(cluster, None) or _Entry()
        self._entries[cluster] = entry
        while len(self._entries) > self._limit:
            self._entries.popitem(last=False)
        return entry
