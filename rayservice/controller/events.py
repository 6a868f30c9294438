"""Kubernetes Events (core/v1) for what a user should see in `kubectl describe`: actions and failures only.

Guarantees:
1. `emit` writes one Event per distinct (object uid, type, reason, message); repeating it within
   `dedupe_window_s` bumps `count` and `lastTimestamp` of the same Event instead of creating another one,
   so a failure repeated on every reconcile never floods the API server.
2. Writing an Event never fails the caller: API errors are logged at debug and dropped (an Event is a
   notification, not state).
3. Event names are `<object name>.<16 hex digits>`, unique per emitter; the object's part is cut to 236
   characters (trailing dots and dashes dropped) so that an object with a name at the 253 limit still gets its
   Event.

Caller must: pass the involved object as the API server returned it (kind, apiVersion, metadata.uid).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any, Final, Protocol

import structlog

from rayservice.api import format_kube_time
from rayservice.clock import SYSTEM_CLOCK, Clock
from rayservice.kube import EVENTS, KubeError, Resource

COMPONENT: Final = "rayservice-operator"
NORMAL: Final = "Normal"
WARNING: Final = "Warning"

_log = structlog.get_logger(__name__)


class EventWriter(Protocol):
    async def create(self, resource: Resource, body: Mapping[str, Any], *,
                     namespace: str | None = None) -> Mapping[str, Any]: ...

    async def patch(self, resource: Resource, name: str, patch: Any, *,
                    namespace: str | None = None) -> Mapping[str, Any]: ...


class EventRecorder:
    def __init__(self, kube: EventWriter, *, component: str = COMPONENT, clock: Clock = SYSTEM_CLOCK,
                 dedupe_window_s: float = 600.0) -> None:
        self._kube = kube
        self._component = component
        self._clock = clock
        self._window_s = dedupe_window_s
        self._seen: dict[tuple[str, str, str, str], tuple[str, int, float]] = {}
        self._serial = itertools.count(int(clock.monotonic() * 1e6))

    async def emit(self, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or "default")
        uid = str(meta.get("uid") or "")
        key = (uid, type_, reason, message)
        now_m = self._clock.monotonic()
        stamp = format_kube_time(self._clock.now())
        seen = self._seen.get(key)
        try:
            if seen is not None and now_m - seen[2] < self._window_s:
                name, count, first = seen
                await self._kube.patch(EVENTS, name, {"count": count + 1, "lastTimestamp": stamp},
                                       namespace=namespace)
                self._seen[key] = (name, count + 1, first)
                return
            name = event_name(str(meta.get("name") or "object"), next(self._serial))
            await self._kube.create(EVENTS, {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": {"apiVersion": obj.get("apiVersion", ""), "kind": obj.get("kind", ""),
                                   "name": meta.get("name", ""), "namespace": namespace, "uid": uid,
                                   "resourceVersion": meta.get("resourceVersion", "")},
                "type": type_, "reason": reason, "message": message[:1024],
                "source": {"component": self._component},
                "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
                "reportingComponent": self._component, "reportingInstance": self._component,
            }, namespace=namespace)
            self._seen[key] = (name, 1, now_m)
        except KubeError as exc:
            _log.debug("event_not_written", reason=reason, error=str(exc))
        if len(self._seen) > 10_000:
            cutoff = now_m - self._window_s
            self._seen = {k: v for k, v in self._seen.items() if v[2] >= cutoff}


def event_name(object_name: str, serial: int) -> str:
    """``<object>.<16 hex>``, the object's part cut so the whole stays a valid name of at most 253 characters."""
    base = object_name[:253 - 17].rstrip(".-") or "object"
    return f"{base}.{serial:016x}"
