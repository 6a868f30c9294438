"""List, then watch, one resource type forever, and feed every change to the informer's callbacks.

Guarantees:
1. The first thing delivered is a complete list (``on_list``); after it, every watch event arrives
   (``on_event``) in the order the server sent it, each once per watch stream.
2. Watches ask for bookmarks and resume from the last resourceVersion seen, bookmarks included, so
   a resumed watch neither misses nor replays events.
3. Each watch asks the server to end it after a randomized timeout in [min, 2 * min) seconds
   (default 5-10 minutes), so a fleet of operators does not reconnect in lockstep.
4. A 410 Gone (an HTTP 410 when the watch opens, or an ERROR event carrying a 410 Status) leads to a
   fresh list; any other failure (an API error, a transport error, a stream that ends before it
   delivered anything) resumes the watch from the last resourceVersion.
5. Consecutive failures back off exponentially (0.8 s doubling to 30 s, jittered by the injected
   ``random.Random``, the first retry immediate), and never sooner than a 429's Retry-After; any
   delivered watch event resets the count, so a relist loop against a server that keeps answering
   410 backs off too.
6. Objects are delivered without ``metadata.managedFields`` (never read by the operator, and often
   the largest part of an object), then through ``transform`` when one is given (client-go's
   ``SetTransform``: the caller drops what it never reads before the object is cached).
7. ``run`` ends only by cancellation or by an exception raised from ``on_list``/``on_event``; API
   and transport errors never end it.
8. A failed list or watch is logged at warning level, except a 409 Conflict (debug: DESIGN §8).

Time comes from the injected ``Clock``; ``run`` is the only coroutine, one task per reflector.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import Final, Protocol

import structlog

from rayservice.clock import SYSTEM_CLOCK, Clock
from rayservice.kube import (
    Conflict,
    Gone,
    KubeError,
    KubeTransportError,
    Resource,
    TooManyRequests,
    error_from_status,
)
from rayservice.raw import RawObject

OnList = Callable[[list[RawObject], str], None]
OnEvent = Callable[[str, RawObject], None]
Transform = Callable[[RawObject], RawObject]

OBJECT_EVENTS: Final = frozenset({"ADDED", "MODIFIED", "DELETED"})

_log = structlog.get_logger(__name__)


class ListResult(Protocol):
    @property
    def items(self) -> Sequence[RawObject]: ...

    @property
    def resource_version(self) -> str: ...


class ListerWatcher(Protocol):
    """What a reflector needs from the API: ``rayservice.kube.KubeClient`` is one."""

    async def list(
        self,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
    ) -> ListResult: ...

    def watch(
        self,
        resource: Resource,
        *,
        namespace: str | None = None,
        resource_version: str | None = None,
        allow_watch_bookmarks: bool = True,
        timeout_seconds: int | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> AsyncGenerator[RawObject, None]: ...


def without_managed_fields(obj: RawObject) -> RawObject:
    """``obj`` minus ``metadata.managedFields`` (a shallow copy only when there was something to drop)."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping) or "managedFields" not in metadata:
        return obj
    return {**obj, "metadata": {k: v for k, v in metadata.items() if k != "managedFields"}}


def backoff_delay_s(failures: int, rng: random.Random, *, initial_s: float = 0.8, cap_s: float = 30.0) -> float:
    """Seconds to wait before the next attempt after ``failures`` consecutive failures."""
    if failures <= 1:
        return 0.0
    base = min(initial_s * 2.0 ** (failures - 2), cap_s)
    return min(base * (1.0 + rng.random()), cap_s)


class Reflector:
    """Keeps ``on_list``/``on_event`` fed with the state of one resource type (optionally filtered)."""

    def __init__(
        self,
        source: ListerWatcher,
        resource: Resource,
        *,
        on_list: OnList,
        on_event: OnEvent,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
        min_watch_timeout_s: float = 300.0,
        page_size: int | None = 500,
        transform: Transform | None = None,
    ) -> None:
        self.resource = resource
        self._source = source
        self._on_list = on_list
        self._on_event = on_event
        self._namespace = namespace
        self._label_selector = label_selector
        self._field_selector = field_selector
        self._clock = clock
        self._rng = rng or random.Random()
        self._min_watch_timeout_s = min_watch_timeout_s
        self._page_size = page_size
        self._transform = transform
        self._last_rv = ""
        self._failures = 0

    @property
    def last_resource_version(self) -> str:
        """The resourceVersion a resumed watch would start from ("" before the first list)."""
        return self._last_rv

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def watch_timeout_s(self) -> int:
        """A fresh randomized server-side timeout for the next watch."""
        return int(self._min_watch_timeout_s * (1.0 + self._rng.random()))

    async def run(self) -> None:
        """List and watch until cancelled."""
        need_list = True
        retry_after_s = 0.0
        while True:
            delay = max(backoff_delay_s(self._failures, self._rng), retry_after_s)
            if delay > 0:
                await self._clock.sleep(delay)
            retry_after_s = 0.0
            try:
                if need_list:
                    await self._list()
                    need_list = False
                await self._watch()
            except Gone as exc:
                self._failures += 1
                need_list = True
                _log.debug("watch_expired_relisting", resource=str(self.resource), reason=exc.reason)
            except KubeError as exc:
                self._failures += 1
                if isinstance(exc, TooManyRequests):
                    retry_after_s = exc.retry_after_s
                # DESIGN §8: a 409 is routine, never worth more than a debug line
                log = _log.debug if isinstance(exc, Conflict) else _log.warning
                log("watch_failed", resource=str(self.resource), error=str(exc), failures=self._failures)

    async def _list(self) -> None:
        result = await self._source.list(
            self.resource,
            namespace=self._namespace,
            label_selector=self._label_selector,
            field_selector=self._field_selector,
            limit=self._page_size,
        )
        objects = [self._prepare(obj) for obj in result.items]
        self._on_list(objects, result.resource_version)
        self._last_rv = result.resource_version
        _log.debug("listed", resource=str(self.resource), count=len(objects), resource_version=self._last_rv)

    async def _watch(self) -> None:
        """One watch stream, until it ends; raises on failure, returns on a clean end."""
        stream = self._source.watch(
            self.resource,
            namespace=self._namespace,
            resource_version=self._last_rv or None,
            allow_watch_bookmarks=True,
            timeout_seconds=self.watch_timeout_s(),
            label_selector=self._label_selector,
            field_selector=self._field_selector,
        )
        received = False
        async with contextlib.aclosing(stream):
            async for event in stream:
                self._handle(event)
                received = True
                self._failures = 0
        if not received:
            self._failures += 1

    def _prepare(self, obj: RawObject) -> RawObject:
        obj = without_managed_fields(obj)
        return self._transform(obj) if self._transform is not None else obj

    def _handle(self, event: RawObject) -> None:
        kind = event.get("type")
        obj = event.get("object")
        if not isinstance(obj, Mapping):
            raise KubeTransportError(f"watch event without an object: type={kind!r}")
        if kind == "ERROR":
            raise error_from_status(0, obj)
        metadata = obj.get("metadata")
        rv = metadata.get("resourceVersion") if isinstance(metadata, Mapping) else None
        if kind in OBJECT_EVENTS:
            self._on_event(str(kind), self._prepare(obj))
        elif kind != "BOOKMARK":
            _log.debug("watch_event_ignored", resource=str(self.resource), type=kind)
            return
        if isinstance(rv, str) and rv:
            self._last_rv = rv
