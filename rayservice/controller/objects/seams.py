"""The interfaces both reconcilers are given: the API writes they make, the caches they read, the events they emit.

Guarantees:
1. Each Protocol holds only the calls a reconciler makes (reads come from the caches, except a live read
   after AlreadyExists): ``rayservice.kube.KubeClient`` is a ``KubeWriter``,
   ``rayservice.controller.caches.CacheView`` a ``CacheReader``, ``rayservice.controller.events.EventRecorder``
   an ``EventEmitter``. Tests pass fakes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from rayservice.keys import ObjectKey
from rayservice.kube import Patch, PatchType, Preconditions, Resource
from rayservice.raw import RawObject


class KubeWriter(Protocol):
    """The API calls a reconcile makes."""

    async def get(self, resource: Resource, name: str, *, namespace: str | None = None) -> RawObject: ...

    async def create(
        self, resource: Resource, body: Mapping[str, Any], *, namespace: str | None = None
    ) -> RawObject: ...

    async def patch(
        self,
        resource: Resource,
        name: str,
        patch: Patch,
        *,
        namespace: str | None = None,
        patch_type: PatchType = PatchType.MERGE,
    ) -> RawObject: ...

    async def replace_status(
        self, resource: Resource, name: str, body: Mapping[str, Any], *, namespace: str | None = None
    ) -> RawObject: ...

    async def delete(
        self,
        resource: Resource,
        name: str,
        *,
        namespace: str | None = None,
        preconditions: Preconditions | None = None,
    ) -> RawObject: ...


class CacheReader(Protocol):
    """One informer cache, read by key or by an index."""

    def get(self, key: ObjectKey) -> RawObject | None: ...

    def by_index(self, index: str, value: str) -> Sequence[RawObject]: ...


class EventEmitter(Protocol):
    """Writes a core/v1 Event about ``obj``; never raises for an API failure."""

    async def emit(self, obj: RawObject, type_: str, reason: str, message: str) -> None: ...


class WriteLog(Protocol):
    """Remembers the resourceVersion a status write replaced (``rayservice.runtime.WrittenVersions`` is one)."""

    def replaced(self, key: ObjectKey, old: object, new: object, *, wake_on_echo: bool = False) -> None: ...
