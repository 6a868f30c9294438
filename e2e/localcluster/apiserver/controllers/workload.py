"""What the workload controllers (ReplicaSet, Deployment, Job) share: time, the event loop, ownership, pod state.

Guarantees:
1. `WorkloadController.run()` syncs every key its `initial_keys()` names, then every key its `affected(event)`
   names after each batch of store events, and every key whose `wake_at` deadline passed on the injected
   clock (the earliest deadline wins; an event never postpones one). Nothing is polled.
2. A sync never raises an `ApiError` out of the loop: writes that conflict or find their object gone are
   dropped, and the object's next event brings the controller back (level-triggered).
3. `is_pod_available(pod, min_ready_s, now)` is kube's podutil.IsPodAvailable: Ready, and Ready since at
   least `min_ready_s` seconds (its lastTransitionTime).
4. `controller_of(obj)` is the ownerReference with `controller: true`, or None; `owner_reference(owner)`
   builds one with `blockOwnerDeletion: true`, as kube-controller-manager writes them.
5. `event(obj, reason, message)` records a core/v1 Event from the controller's component (events.py).
6. `random_suffix(rng)` is five characters of kube's SafeEncodeString alphabet (no vowels, no 0/1/3).

Caller must: run `run()` as a task on the loop that owns the store, and cancel it to stop.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from e2e.localcluster.apiserver.errors import ApiError
from e2e.localcluster.apiserver.schema.resources import ResourceType
from e2e.localcluster.apiserver.storage.objects import meta, parse_rfc3339, rfc3339
from e2e.localcluster.apiserver.storage.rest import Api
from e2e.localcluster.apiserver.storage.store import Event, GroupResource, Obj, Subscription

from .events import record_event

PODS: GroupResource = ("", "pods")
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
Key = tuple[str, str]  # (namespace, name)


class Clock(Protocol):
    """The time source of the workload controllers (structurally the operator's Clock)."""

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def random_suffix(rng: random.Random, n: int = 5) -> str:
    return "".join(rng.choice(SAFE_ALPHABET) for _ in range(n))


# ---- ownership ----------------------------------------------------------------------------------------------


def controller_of(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for ref in meta(dict(obj)).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def is_controlled_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    ref = controller_of(obj)
    return ref is not None and ref.get("uid") == meta(dict(owner)).get("uid")


def owner_reference(owner: Obj) -> dict[str, Any]:
    m = meta(owner)
    return {"apiVersion": owner.get("apiVersion"), "kind": owner.get("kind"), "name": m.get("name"),
            "uid": m.get("uid"), "controller": True, "blockOwnerDeletion": True}


# ---- pods ---------------------------------------------------------------------------------------------------


def is_pod_active(pod: Mapping[str, Any]) -> bool:
    """kube's FilterActivePods: not terminal and not being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not (pod.get("metadata") or {}).get("deletionTimestamp")


def _ready_condition(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return dict(cond)
    return None


def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    cond = _ready_condition(pod)
    return cond is not None and cond.get("status") == "True"


def ready_since(pod: Mapping[str, Any]) -> datetime | None:
    cond = _ready_condition(pod)
    if cond is None or cond.get("status") != "True":
        return None
    stamp = cond.get("lastTransitionTime")
    return parse_rfc3339(stamp) if isinstance(stamp, str) and stamp else None


def is_pod_available(pod: Mapping[str, Any], min_ready_s: int, now: datetime) -> bool:
    if not is_pod_ready(pod):
        return False
    if min_ready_s <= 0:
        return True
    since = ready_since(pod)
    return since is not None and since + timedelta(seconds=min_ready_s) <= now


def available_at(pod: Mapping[str, Any], min_ready_s: int) -> datetime | None:
    """When a Ready pod that is not yet available becomes so (None: not Ready)."""
    since = ready_since(pod)
    return None if since is None else since + timedelta(seconds=min_ready_s)


def int_field(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


# ---- the loop -----------------------------------------------------------------------------------------------


class WorkloadController:
    """A level-triggered controller over the store: subclasses say which keys an event touches and sync one."""

    name = "workload"
    component = "workload-controller"  # the event source kube's controller of the same kind reports

    def __init__(self, api: Api, *, clock: Clock | None = None, rng: random.Random | None = None) -> None:
        self.api = api
        self.clock: Clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self._deadlines: dict[Key, datetime] = {}

    # subclass surface
    def initial_keys(self) -> Iterable[Key]:
        raise NotImplementedError

    def affected(self, ev: Event) -> Iterable[Key]:
        raise NotImplementedError

    def sync(self, key: Key) -> None:
        raise NotImplementedError

    def wake_at(self, key: Key, when: datetime) -> None:
        """Sync `key` again at `when` (an earlier deadline already set wins)."""
        current = self._deadlines.get(key)
        if current is None or when < current:
            self._deadlines[key] = when

    def now(self) -> datetime:
        return self.clock.now()

    def event(self, obj: Obj, reason: str, message: str, event_type: str = "Normal") -> None:
        record_event(self.api, obj, reason=reason, message=message, component=self.component, rng=self.rng,
                     now=self.now_text(), event_type=event_type)

    def now_text(self) -> str:
        return rfc3339(self.clock.now())

    async def run(self) -> None:
        store = self.api.store
        sub = store.subscribe(None)
        try:
            dirty = set(self.initial_keys())
            while True:
                for key in sorted(dirty):
                    self._sync_one(key)
                batch = await self._next_batch(sub)
                if batch is None:
                    return
                dirty = set()
                for ev in batch:
                    dirty.update(self.affected(ev))
                now = self.clock.now()
                for key, when in list(self._deadlines.items()):
                    if when <= now:
                        del self._deadlines[key]
                        dirty.add(key)
        finally:
            store.unsubscribe(sub)

    def _sync_one(self, key: Key) -> None:
        try:
            self.sync(key)
        except ApiError:
            pass  # a conflict or a vanished object: its next event brings the key back

    async def _next_batch(self, sub: Subscription) -> list[Event] | None:
        """The next batch of events, or an empty batch once the earliest deadline passes."""
        if not self._deadlines:
            return await sub.next_batch()
        delay = (min(self._deadlines.values()) - self.clock.now()).total_seconds()
        if delay <= 0:
            return []
        async with asyncio.TaskGroup() as tg:
            events = tg.create_task(sub.next_batch())
            nap = tg.create_task(self.clock.sleep(delay))
            await asyncio.wait({events, nap}, return_when=asyncio.FIRST_COMPLETED)
            if events.done():
                nap.cancel()
                return events.result()
            events.cancel()
        return []


def served(api: Api, group: str, plural: str) -> ResourceType:
    for rt in api.registry:
        if rt.group_resource == (group, plural):
            return rt
    raise ApiError(404, "NotFound", f"the server does not serve {plural}.{group}", {})
