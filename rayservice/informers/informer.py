"""An informer: a reflector filling an indexed cache, and handlers told about every change that matters.

Guarantees:
1. The cache converges to the server: after a list, and after each watch event, ``get``/``list``/
   ``by_index`` answer with the server's state as of that resourceVersion.
2. Per object, states arrive in order; some may be skipped (a relist jumps to the newest state), but
   a handler never sees an older state after a newer one.
3. Handlers run after the cache and indexes reflect the change; for a relist, after the whole list
   is applied. They are plain functions: nothing is awaited between a cache change and its handlers.
4. A relist is diffed against the cache: objects that appeared are adds, objects whose
   resourceVersion changed are updates, objects that vanished are deletes (carrying the last known
   object). An update whose resourceVersion did not change is never delivered.
5. A delete carries the last known state of the object (the DELETED event's object).
6. ``has_synced`` becomes true, and ``wait_synced`` returns, once the first list is in the cache,
   and its handler calls have been made. Handlers added later first get an add for every cached object.
7. With a ``transform``, the cache and the handlers hold (and a delete carries) the transformed objects only.

Caller must:
- run ``run()`` in a task it owns (cancel it to stop), and treat cached objects as read-only;
- pass handlers that do not raise: an exception from a handler ends ``run()`` with it.

All methods except ``run``/``wait_synced`` are synchronous and must be called on the informer's loop.
"""

from __future__ import annotations

import asyncio
import builtins
import inspect
import random
from collections.abc import Mapping
from typing import Final

from rayservice.clock import SYSTEM_CLOCK, Clock
from rayservice.informers.handlers import EventHandlers
from rayservice.informers.indexes import NAMESPACE_INDEX, OWNER_UID_INDEX, IndexFunc, by_namespace, by_owner_uid
from rayservice.informers.reflector import ListerWatcher, Reflector, Transform
from rayservice.informers.store import Store, key_of
from rayservice.keys import ObjectKey
from rayservice.kube import Resource
from rayservice.raw import RawObject

DEFAULT_INDEXERS: Final[Mapping[str, IndexFunc]] = {NAMESPACE_INDEX: by_namespace, OWNER_UID_INDEX: by_owner_uid}


class Informer:
    """A cache of one resource type (optionally one namespace / label-filtered) kept current by a watch."""

    def __init__(
        self,
        source: ListerWatcher,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        indexers: Mapping[str, IndexFunc] = DEFAULT_INDEXERS,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
        min_watch_timeout_s: float = 300.0,
        transform: Transform | None = None,
    ) -> None:
        self.resource = resource
        self._store = Store(indexers)
        self._handlers: list[EventHandlers] = []
        self._synced = asyncio.Event()
        self._reflector = Reflector(
            source,
            resource,
            on_list=self._on_list,
            on_event=self._on_event,
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            clock=clock,
            rng=rng,
            min_watch_timeout_s=min_watch_timeout_s,
            transform=transform,
        )

    # ---- lifecycle --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Keep the cache current until cancelled."""
        await self._reflector.run()

    @property
    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        """Return once the first list is cached; wrap in ``asyncio.timeout`` to bound the wait."""
        await self._synced.wait()

    @property
    def last_resource_version(self) -> str:
        """The resourceVersion the cache is current to, advanced by events and bookmarks alike."""
        return self._reflector.last_resource_version

    def add_handlers(self, handlers: EventHandlers) -> None:
        """Register handlers; if the cache is already filled, they get an add for every cached object."""
        for func in (handlers.on_add, handlers.on_update, handlers.on_delete):
            if func is not None and inspect.iscoroutinefunction(func):
                raise TypeError(f"informer handlers must not be coroutines: {func!r}")
        self._handlers.append(handlers)
        if self.has_synced and handlers.on_add is not None:
            for obj in self._store.list():
                handlers.on_add(obj)

    # ---- reads (the CacheReader surface) ---------------------------------------------------------

    def get(self, key: ObjectKey) -> RawObject | None:
        return self._store.get(key)

    def list(self) -> builtins.list[RawObject]:
        return self._store.list()

    def keys(self) -> builtins.list[ObjectKey]:
        return self._store.keys()

    def by_index(self, index: str, value: str) -> builtins.list[RawObject]:
        return self._store.by_index(index, value)

    def __len__(self) -> int:
        return len(self._store)

    # ---- reflector callbacks ----------------------------------------------------------------------

    def _on_list(self, objects: builtins.list[RawObject], resource_version: str) -> None:
        del resource_version
        adds: list[RawObject] = []
        updates: list[tuple[RawObject, RawObject]] = []
        deletes: list[RawObject] = []
        listed: set[ObjectKey] = set()
        for obj in objects:
            key = key_of(obj)
            listed.add(key)
            old = self._store.get(key)
            if old is not None and _rv(old) == _rv(obj):
                continue
            self._store.put(obj)
            if old is None:
                adds.append(obj)
            else:
                updates.append((old, obj))
        for key in self._store.keys():
            if key not in listed:
                gone = self._store.delete(key)
                if gone is not None:
                    deletes.append(gone)
        self._synced.set()
        for obj in adds:
            self._notify_add(obj)
        for old, new in updates:
            self._notify_update(old, new)
        for obj in deletes:
            self._notify_delete(obj)

    def _on_event(self, event_type: str, obj: RawObject) -> None:
        key = key_of(obj)
        if event_type == "DELETED":
            if self._store.delete(key) is not None:
                self._notify_delete(obj)
            return
        old = self._store.get(key)
        if old is not None and _rv(old) == _rv(obj):
            return
        self._store.put(obj)
        if old is None:
            self._notify_add(obj)
        else:
            self._notify_update(old, obj)

    def _notify_add(self, obj: RawObject) -> None:
        for handlers in self._handlers:
            if handlers.on_add is not None:
                handlers.on_add(obj)

    def _notify_update(self, old: RawObject, new: RawObject) -> None:
        for handlers in self._handlers:
            if handlers.on_update is not None:
                handlers.on_update(old, new)

    def _notify_delete(self, obj: RawObject) -> None:
        for handlers in self._handlers:
            if handlers.on_delete is not None:
                handlers.on_delete(obj)


def _rv(obj: RawObject) -> object:
    metadata = obj.get("metadata")
    return metadata.get("resourceVersion") if isinstance(metadata, Mapping) else None
