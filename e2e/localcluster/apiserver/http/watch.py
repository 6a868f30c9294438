"""Watch streams: newline-delimited JSON events, as kube-apiserver sends them.

Guarantees:
1. Without a resourceVersion (or with "0") the stream starts with synthetic ADDED events for the current
   objects, sorted by namespace and name; with one it carries only newer events, from the history.
2. A resourceVersion older than the history answers HTTP 200, one ERROR event with a 410 Expired Status,
   then the end of the stream.
3. With a label or field selector, an object leaving the selection arrives as DELETED (its previous
   state with the new resourceVersion) and one entering it as ADDED; changes outside it are not sent.
4. `sendInitialEvents=true` needs `resourceVersionMatch=NotOlderThan` (else 422) and ends the initial
   events with a BOOKMARK annotated `k8s.io/initial-events-end` when bookmarks are allowed.
5. With `allowWatchBookmarks`, a BOOKMARK with the store's current resourceVersion is sent every
   `bookmark_interval_s`; `timeoutSeconds` ends the stream after that many seconds.
6. Events go to `send` in batches, in order: the initial events in runs of at most `MAX_BATCH`, then every event
   already queued when the watcher wakes (at most `MAX_BATCH`). The HTTP layer writes a batch at once, so a burst
   of writes costs a watcher one transport write (one TLS record run, one send call), not one per event;
   newline-delimited JSON keeps the events apart. A batch never reaches past the end of the subscription, and a
   BOOKMARK is only sent when nothing is queued, so its resourceVersion never overtakes an unsent event.
"""

from __future__ import annotations

import asyncio
import builtins
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from e2e.localcluster.apiserver import errors
from e2e.localcluster.apiserver.errors import Cause
from e2e.localcluster.apiserver.schema.resources import ResourceType
from e2e.localcluster.apiserver.storage import fieldselectors, selectors
from e2e.localcluster.apiserver.storage.objects import meta
from e2e.localcluster.apiserver.storage.store import Event, Obj, Store, Subscription, TooOld

Send = Callable[[list[dict[str, Any]]], Awaitable[None]]  # events in order, to be written together
MAX_BATCH = 256  # events per write: bounds one write (some 100 kB of small ConfigMaps, about 1 MB of pods)


@dataclass
class WatchOptions:
    namespace: str | None
    resource_version: str = ""
    label_selector: str = ""
    field_selector: str = ""
    allow_bookmarks: bool = False
    send_initial_events: bool | None = None
    resource_version_match: str = ""
    timeout_s: float | None = None


def check_options(opts: WatchOptions) -> None:
    if opts.send_initial_events is not None and opts.resource_version_match != "NotOlderThan":
        raise errors.invalid_options("ListOptions", [Cause(
            "resourceVersionMatch", "FieldValueForbidden",
            "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")])


class Watcher:
    """One watch request; `run` drives the stream until timeout, close or client disconnect."""

    def __init__(self, store: Store, rt: ResourceType, opts: WatchOptions,
                 output: Callable[[ResourceType, Obj], Obj], bookmark_interval_s: float = 10.0,
                 force_expired: bool = False) -> None:
        check_options(opts)
        self.store = store
        self.rt = rt
        self.opts = opts
        self.output = output
        self.bookmark_interval_s = bookmark_interval_s
        self.force_expired = force_expired
        self.lsel = selectors.parse_label_selector(opts.label_selector)
        self.fsel = fieldselectors.parse_field_selector(opts.field_selector, rt.field_selectors,
                                                   custom=rt.is_custom, kind=rt.kind)

    def _in_scope(self, obj: Obj | None) -> bool:
        if obj is None:
            return False
        if self.opts.namespace is not None and meta(obj).get("namespace", "") != self.opts.namespace:
            return False
        return self.lsel.matches(meta(obj).get("labels")) and self.fsel.matches(obj)

    def translate(self, ev: Event) -> dict[str, Any] | None:
        """An event as this watcher sees it, with selector boundaries turned into ADDED/DELETED."""
        now_in = self._in_scope(ev.obj)
        if ev.type == "ADDED":
            return self._event("ADDED", ev.obj) if now_in else None
        was_in = self._in_scope(ev.old)
        if ev.type == "DELETED":
            return self._event("DELETED", ev.obj) if was_in or now_in else None
        if was_in and now_in:
            return self._event("MODIFIED", ev.obj)
        if now_in:
            return self._event("ADDED", ev.obj)
        if was_in and ev.old is not None:
            old = dict(ev.old)
            old["metadata"] = {**meta(ev.old), "resourceVersion": meta(ev.obj)["resourceVersion"]}
            return self._event("DELETED", old)
        return None

    def _event(self, kind: str, obj: Obj) -> dict[str, Any]:
        return {"type": kind, "object": self.output(self.rt, obj)}

    def _bookmark(self, initial_end: bool = False) -> dict[str, Any]:
        md: dict[str, Any] = {"resourceVersion": str(self.store.current_rv)}
        if initial_end:
            md["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {"type": "BOOKMARK", "object": {"kind": self.rt.kind, "apiVersion": self.rt.api_version,
                                               "metadata": md}}

    def open(self) -> None:
        """Take the subscription and the initial events in one synchronous step, so the subscription
        holds exactly the events after them. Raises ApiError for bad options."""
        gr = self.rt.group_resource
        self._first: builtins.list[dict[str, Any]] = []
        rv = self.opts.resource_version
        if self.force_expired:
            self._first = [_expired(f"too old resource version: {rv or 0} ({self.store.compacted_rv + 1})")]
            self._sub = None
            return
        if self.opts.send_initial_events or rv in ("", "0"):
            ns = self.opts.namespace if self.rt.namespaced else None
            self._first = [self._event("ADDED", o) for o in self.store.list(gr, ns) if self._in_scope(o)]
            if self.opts.send_initial_events and self.opts.allow_bookmarks:
                self._first.append(self._bookmark(initial_end=True))
        else:
            try:
                since = int(rv)
            except ValueError:
                raise errors.bad_request(f'invalid resource version "{rv}"') from None
            try:
                history = self.store.events_since(gr, since)
            except TooOld as exc:
                self._first = [_expired(str(exc))]
                self._sub = None
                return
            self._first = [e for e in (self.translate(ev) for ev in history) if e is not None]
        self._sub = self.store.subscribe(gr, droppable=True)

    async def run(self, send: Send, stop: asyncio.Event) -> None:
        """Send the initial events, then follow the subscription (after `open`)."""
        try:
            for i in range(0, len(self._first), MAX_BATCH):
                await send(self._first[i:i + MAX_BATCH])
            if self._sub is not None:
                await self._follow(self._sub, send, stop)
        finally:
            self.close()

    def close(self) -> None:
        """Release the subscription; safe to call more than once."""
        if self._sub is not None:
            self.store.unsubscribe(self._sub)
            self._sub = None

    async def _follow(self, sub: Subscription, send: Send, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.opts.timeout_s if self.opts.timeout_s else None
        next_bookmark = loop.time() + self.bookmark_interval_s
        stop_wait = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                now = loop.time()
                wait = next_bookmark - now if self.opts.allow_bookmarks else 3600.0
                if deadline is not None:
                    wait = min(wait, deadline - now)
                    if wait <= 0:
                        return
                events, ended = take_queued(sub.queue, MAX_BATCH)
                if not events and not ended:
                    # nothing queued: sleep until an event, the stop, a bookmark or the deadline
                    get = asyncio.ensure_future(sub.queue.get())
                    done, _ = await asyncio.wait({get, stop_wait}, timeout=max(wait, 0),
                                                 return_when=asyncio.FIRST_COMPLETED)
                    if stop_wait in done:
                        get.cancel()
                        return
                    if get not in done:
                        get.cancel()
                        if self.opts.allow_bookmarks and loop.time() >= next_bookmark:
                            await send([self._bookmark()])
                            next_bookmark = loop.time() + self.bookmark_interval_s
                        continue
                    first = get.result()
                    if first is None:
                        return
                    events, ended = take_queued(sub.queue, MAX_BATCH - 1)
                    events.insert(0, first)
                out = [e for e in (self.translate(ev) for ev in events) if e is not None]
                if out:
                    await send(out)
                if ended:
                    return
                if len(events) == MAX_BATCH:
                    # more may be queued: a transport write rarely suspends, so yield before the next batch and
                    # let requests and other watchers run, rather than drain a long backlog in one go
                    await asyncio.sleep(0)
        finally:
            stop_wait.cancel()


def take_queued(queue: asyncio.Queue[Event | None], limit: int) -> tuple[builtins.list[Event], bool]:
    """Up to `limit` events already in `queue`, without waiting, and whether the end marker (None) came next
    (it is consumed: the subscription is over)."""
    events: builtins.list[Event] = []
    while len(events) < limit and not queue.empty():
        ev = queue.get_nowait()
        if ev is None:
            return events, True
        events.append(ev)
    return events, False


def _expired(message: str) -> dict[str, Any]:
    status = errors.expired(message).to_status()
    return {"type": "ERROR", "object": status}


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"
