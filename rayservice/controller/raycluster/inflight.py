"""Pod names a RayCluster reconcile created that the informer cache may not show yet.

A create returns before the watch delivers the new pod, so the next reconcile can read a cache without it.
``plan_pods`` counts the names kept here toward the head and the groups, so that reconcile never creates the
same pod twice.

Guarantees:
1. ``pending(key, seen=...)`` returns the names added for ``key`` that are not in ``seen`` and are younger
   than ``expiry_s``; names in ``seen`` (the cache shows them now) and expired names are forgotten for good.
2. An expired name is one the cache never showed within ``expiry_s`` of its create (a pod that came and went
   between two watch events, or a create that failed without an answer): forgetting it lets the plan make
   a replacement instead of waiting for it forever.
3. ``discard`` (after a delete) and ``forget`` (the cluster is gone) drop names at once; a key with no names
   left takes no memory.
4. Time is read only from the injected clock's ``monotonic()``.

Caller must: ``add`` a name before sending its create, so a create whose answer is lost still counts; call
every method from one event loop (there is no locking: a key is reconciled by one worker at a time).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from rayservice.api import ObjectKey
from rayservice.clock import SYSTEM_CLOCK, Clock

DEFAULT_EXPIRY_S: Final = 60.0
"""Far beyond a healthy watch's delay; short enough that a lost pod is replaced within a minute."""


class InFlight:
    """Created pod names per RayCluster key, each with the monotonic time of its create."""

    def __init__(self, *, clock: Clock = SYSTEM_CLOCK, expiry_s: float = DEFAULT_EXPIRY_S) -> None:
        if expiry_s <= 0:
            raise ValueError("expiry_s must be positive")
        self._clock = clock
        self._expiry_s = expiry_s
        self._names: dict[ObjectKey, dict[str, float]] = {}

    def add(self, key: ObjectKey, name: str) -> None:
        """Remember ``name`` as created for ``key`` now."""
        self._names.setdefault(key, {})[name] = self._clock.monotonic()

    def pending(self, key: ObjectKey, *, seen: Collection[str]) -> set[str]:
        """The names of ``key`` the cache does not show yet (guarantee 1)."""
        names = self._names.get(key)
        if names is None:
            return set()
        cutoff = self._clock.monotonic() - self._expiry_s
        for name in [name for name, added in names.items() if name in seen or added <= cutoff]:
            del names[name]
        if not names:
            del self._names[key]
        return set(names)

    def discard(self, key: ObjectKey, name: str) -> None:
        """Forget ``name`` (it was deleted, or its create failed for sure)."""
        names = self._names.get(key)
        if names is not None:
            names.pop(name, None)
            if not names:
                del self._names[key]

    def forget(self, key: ObjectKey) -> None:
        """Forget every name of ``key`` (the cluster is gone)."""
        self._names.pop(key, None)

    def __len__(self) -> int:
        """How many names are in flight over all keys."""
        return sum(len(names) for names in self._names.values())
