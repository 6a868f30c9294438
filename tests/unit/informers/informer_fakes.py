"""A scripted in-memory ListerWatcher: server-like resourceVersions, history replay, injectable failures."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from rayservice.informers import EventHandlers, Informer
from rayservice.kube import ObjectList, Resource

PODS = Resource("", "v1", "pods", kind="Pod")
_END = object()


@dataclass
class FakeSource:
    """Objects keyed by (namespace, name); every change gets the next resourceVersion and an event."""

    rv: int = 100
    objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    history: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    list_calls: list[dict[str, Any]] = field(default_factory=list)
    watch_calls: list[dict[str, Any]] = field(default_factory=list)
    list_errors: deque[BaseException] = field(default_factory=deque)
    watch_open_errors: deque[BaseException] = field(default_factory=deque)
    streams: list[asyncio.Queue[Any]] = field(default_factory=list)

    # ---- the ListerWatcher surface ----

    async def list(
        self,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
    ) -> ObjectList:
        self.list_calls.append({"namespace": namespace, "label_selector": label_selector, "limit": limit})
        if self.list_errors:
            raise self.list_errors.popleft()
        items = [dict(obj) for _, obj in sorted(self.objects.items())]
        return ObjectList(items, str(self.rv))

    async def watch(
        self,
        resource: Resource,
        *,
        namespace: str | None = None,
        resource_version: str | None = None,
        allow_watch_bookmarks: bool = True,
        timeout_seconds: int | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> AsyncGenerator[dict[str, Any], None]:
        self.watch_calls.append(
            {
                "resource_version": resource_version,
                "timeout_seconds": timeout_seconds,
                "allow_watch_bookmarks": allow_watch_bookmarks,
                "label_selector": label_selector,
            }
        )
        if self.watch_open_errors:
            raise self.watch_open_errors.popleft()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        since = int(resource_version or 0)
        for rv, event in self.history:
            if rv > since:
                queue.put_nowait(event)
        self.streams.append(queue)
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.streams.remove(queue)

    # ---- server-side changes ----

    def put(self, name: str, namespace: str = "ns", **fields: Any) -> dict[str, Any]:
        self.rv += 1
        key = (namespace, name)
        kind = "MODIFIED" if key in self.objects else "ADDED"
        obj = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "resourceVersion": str(self.rv),
                **fields.pop("metadata", {}),
            },
            **fields,
        }
        self.objects[key] = obj
        self._publish({"type": kind, "object": obj})
        return obj

    def remove(self, name: str, namespace: str = "ns") -> None:
        self.rv += 1
        obj = self.objects.pop((namespace, name))
        gone = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self.rv)}}
        self._publish({"type": "DELETED", "object": gone})

    def put_silently(self, name: str, namespace: str = "ns", **fields: Any) -> None:
        """Change state without any watcher seeing it (as if the events were compacted away)."""
        self.rv += 1
        self.objects[(namespace, name)] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "resourceVersion": str(self.rv)},
            **fields,
        }

    def remove_silently(self, name: str, namespace: str = "ns") -> None:
        self.rv += 1
        del self.objects[(namespace, name)]

    def bookmark(self) -> None:
        self.rv += 1
        self.send(
            {
                "type": "BOOKMARK",
                "object": {"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": str(self.rv)}},
            }
        )

    def send(self, event: Mapping[str, Any] | BaseException) -> None:
        for queue in self.streams:
            queue.put_nowait(event)

    def end_streams(self) -> None:
        for queue in self.streams:
            queue.put_nowait(_END)

    def _publish(self, event: dict[str, Any]) -> None:
        self.history.append((self.rv, event))
        self.send(event)


@dataclass
class Recorder:
    """Handlers that log every call, plus what the cache held when each ran."""

    informer: Informer | None = None
    calls: list[tuple[str, ...]] = field(default_factory=list)
    cache_sizes: list[int] = field(default_factory=list)

    def handlers(self) -> EventHandlers:
        return EventHandlers(on_add=self._add, on_update=self._update, on_delete=self._delete)

    def _seen(self) -> None:
        if self.informer is not None:
            self.cache_sizes.append(len(self.informer))

    def _add(self, obj: Mapping[str, Any]) -> None:
        self.calls.append(("add", _name_rv(obj)))
        self._seen()

    def _update(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        self.calls.append(("update", _name_rv(old), _name_rv(new)))
        self._seen()

    def _delete(self, obj: Mapping[str, Any]) -> None:
        self.calls.append(("delete", _name_rv(obj)))
        self._seen()


def _name_rv(obj: Mapping[str, Any]) -> str:
    return f"{obj['metadata']['name']}@{obj['metadata']['resourceVersion']}"


@contextlib.asynccontextmanager
async def running(informer: Informer) -> AsyncIterator[asyncio.Task[None]]:
    """Run the informer in a task for the duration of the block, then cancel and await it."""
    task = asyncio.create_task(informer.run(), name="informer-under-test")
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
