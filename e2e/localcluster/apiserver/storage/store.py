"""In-memory object storage with one global resourceVersion and a bounded event history.

Guarantees:
1. Every write takes the next value of one global, strictly increasing resourceVersion, shared by all
   resources; `current_rv` is the newest written value.
2. `put` of an object equal to the stored one (ignoring metadata.resourceVersion) writes nothing: the
   stored object, its resourceVersion and the event stream are unchanged.
3. Every write publishes exactly one event (ADDED, MODIFIED or DELETED, carrying the previous state) to
   every live subscription of that resource, in resourceVersion order, before the write call returns.
4. Events newer than `compacted_rv` can be replayed with `events_since`; older ones raise `TooOld`.
5. Stored objects are never mutated in place; callers receive them read-only and must copy to change.

All methods are synchronous: one asyncio loop owns the store, so each call is atomic with respect to
every other request.
"""

from __future__ import annotations

import asyncio
import builtins
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
GroupResource = tuple[str, str]
ObjKey = tuple[str, str]  # (namespace or "", name)


@dataclass(frozen=True)
class Event:
    type: str  # ADDED | MODIFIED | DELETED
    gr: GroupResource
    obj: Obj
    old: Obj | None
    rv: int


class TooOld(Exception):
    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


@dataclass(eq=False)
class Subscription:
    """A live feed of one resource's events; `queue` receives Events, or None once closed."""

    gr: GroupResource | None  # None: every resource (controllers)
    droppable: bool = False  # client watches, which the drop-watches fault may end
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)
    closed: bool = False

    async def next_batch(self) -> builtins.list[Event] | None:
        """The next event and every one already queued behind it; None once the subscription is closed."""
        first = await self.queue.get()
        if first is None:
            return None
        batch = [first]
        while not self.queue.empty():
            event = self.queue.get_nowait()
            if event is None:
                self.queue.put_nowait(None)
                break
            batch.append(event)
        return batch


def _strip_rv(obj: Obj) -> Obj:
    meta = dict(obj.get("metadata") or {})
    meta.pop("resourceVersion", None)
    out = dict(obj)
    out["metadata"] = meta
    return out


def obj_key(obj: Obj) -> ObjKey:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


class Store:
    def __init__(self, *, initial_rv: int = 1000, history_size: int = 20000) -> None:
        self._rv = initial_rv
        self._compacted = initial_rv
        self._data: dict[GroupResource, dict[ObjKey, Obj]] = {}
        self._history: deque[Event] = deque()
        self._history_size = history_size
        self._subs: set[Subscription] = set()
        self.write_count = 0

    @property
    def current_rv(self) -> int:
        return self._rv

    @property
    def compacted_rv(self) -> int:
        return self._compacted

    # reads

    def get(self, gr: GroupResource, namespace: str, name: str) -> Obj | None:
        return self._data.get(gr, {}).get((namespace, name))

    def list(self, gr: GroupResource, namespace: str | None = None) -> builtins.list[Obj]:
        """Objects sorted by (namespace, name); `namespace=None` means all namespaces."""
        items = self._data.get(gr, {})
        keys = sorted(k for k in items if namespace is None or k[0] == namespace)
        return [items[k] for k in keys]

    def count(self, gr: GroupResource, namespace: str | None = None) -> int:
        items = self._data.get(gr, {})
        if namespace is None:
            return len(items)
        return sum(1 for k in items if k[0] == namespace)

    def resources(self) -> Iterable[GroupResource]:
        return list(self._data)

    # writes

    def put(self, gr: GroupResource, obj: Obj) -> Obj:
        """Create or replace; returns the stored object (unchanged and unwritten if equal)."""
        key = obj_key(obj)
        bucket = self._data.setdefault(gr, {})
        old = bucket.get(key)
        if old is not None and _strip_rv(old) == _strip_rv(obj):
            return old
        stored = self._stamp(obj)
        bucket[key] = stored
        self._publish(Event("ADDED" if old is None else "MODIFIED", gr, stored, old, self._rv))
        return stored

    def remove(self, gr: GroupResource, namespace: str, name: str) -> Obj | None:
        """Delete; the DELETED event carries the last state stamped with a new resourceVersion."""
        old = self._data.get(gr, {}).pop((namespace, name), None)
        if old is None:
            return None
        gone = self._stamp(old)
        self._publish(Event("DELETED", gr, gone, old, self._rv))
        return gone

    def _stamp(self, obj: Obj) -> Obj:
        self._rv += 1
        self.write_count += 1
        out = dict(obj)
        meta = dict(out.get("metadata") or {})
        meta["resourceVersion"] = str(self._rv)
        out["metadata"] = meta
        return out

    # events

    def _publish(self, event: Event) -> None:
        self._history.append(event)
        while len(self._history) > self._history_size:
            self._compacted = self._history.popleft().rv
        for sub in self._subs:
            if not sub.closed and (sub.gr is None or sub.gr == event.gr):
                sub.queue.put_nowait(event)

    def events_since(self, gr: GroupResource | None, rv: int) -> builtins.list[Event]:
        """Events of `gr` (None: all) newer than `rv`; raises TooOld when some were compacted away."""
        if rv < self._compacted:
            raise TooOld(rv, self._compacted + 1)
        return [e for e in self._history if e.rv > rv and (gr is None or e.gr == gr)]

    def subscribe(self, gr: GroupResource | None, *, droppable: bool = False) -> Subscription:
        sub = Subscription(gr, droppable)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        sub.closed = True
        self._subs.discard(sub)
        sub.queue.put_nowait(None)

    def drop_watches(self) -> int:
        """End every client watch (a fault hook); controllers' subscriptions stay. Returns how many."""
        subs = [s for s in self._subs if s.droppable]
        for sub in subs:
            self.unsubscribe(sub)
        return len(subs)

    @property
    def subscriber_count(self) -> int:
        return len(self._subs)
