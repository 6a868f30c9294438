"""Fakes for the RayCluster reconcile: a tiny API server that records writes, caches it fills when told, and
recorders for events and metrics."""

from __future__ import annotations

import copy
import itertools
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rayservice.api import RAY_CLUSTER_LABEL, ObjectKey
from rayservice.controller.caches import CLUSTER_INDEX
from rayservice.controller.raycluster.inflight import InFlight
from rayservice.controller.raycluster.reconcile import RayClusterDeps
from rayservice.kube import AlreadyExists, ApiError, Conflict, NotFound, Resource
from rayservice.testing import FakeClock

CREATED = "2025-01-01T00:00:00Z"  # FakeClock's start


@dataclass(frozen=True)
class Write:
    verb: str
    resource: str
    name: str
    body: Any = None


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class FakeApi:
    """Objects by (plural, namespace, name); every write is recorded; ``fail`` makes the next matching call raise."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.writes: list[Write] = []
        self.fail: dict[tuple[str, str], ApiError] = {}  # (verb, plural) -> error, raised once
        self._serial = itertools.count(1)

    def put(self, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        stored = copy.deepcopy(obj)
        meta = stored.setdefault("metadata", {})
        meta["resourceVersion"] = str(next(self._serial))
        meta.setdefault("uid", f"uid-{plural}-{meta['name']}")
        meta.setdefault("creationTimestamp", CREATED)
        self.objects[(plural, meta["namespace"], meta["name"])] = stored
        return copy.deepcopy(stored)

    def of(self, plural: str) -> list[dict[str, Any]]:
        return [obj for (kind, _, _), obj in sorted(self.objects.items()) if kind == plural]

    def _record(self, verb: str, resource: Resource, name: str, body: Any = None) -> None:
        self.writes.append(Write(verb, resource.plural, name, copy.deepcopy(body)))
        error = self.fail.pop((verb, resource.plural), None)
        if error is not None:
            raise error

    async def get(self, resource: Resource, name: str, *, namespace: str | None = None) -> dict[str, Any]:
        obj = self.objects.get((resource.plural, namespace or "", name))
        if obj is None:
            raise NotFound(404, "NotFound", f"{resource.plural} {name!r} not found")
        return copy.deepcopy(obj)

    async def create(
        self, resource: Resource, body: Mapping[str, Any], *, namespace: str | None = None
    ) -> dict[str, Any]:
        name = body["metadata"]["name"]
        self._record("create", resource, name, body)
        if (resource.plural, namespace or "", name) in self.objects:
            raise AlreadyExists(409, "AlreadyExists", f"{resource.plural} {name!r} already exists")
        obj = copy.deepcopy(dict(body))
        if resource.plural == "services":
            obj["spec"]["clusterIP"] = f"10.96.0.{len(self.of('services')) + 1}"
        return self.put(resource.plural, obj)

    async def patch(self, resource: Resource, name: str, patch: Any, *, namespace: str | None = None) -> Any:
        self._record("patch", resource, name, patch)
        current = await self.get(resource, name, namespace=namespace)
        return self.put(resource.plural, merge_patch(current, patch))

    async def replace_status(
        self, resource: Resource, name: str, body: Mapping[str, Any], *, namespace: str | None = None
    ) -> dict[str, Any]:
        self._record("update", resource, f"{name}/status", body)
        current = await self.get(resource, name, namespace=namespace)
        if body["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
            raise Conflict(409, "Conflict", "the object has been modified")
        return self.put(resource.plural, {**current, "status": copy.deepcopy(body["status"])})

    async def delete(self, resource: Resource, name: str, *, namespace: str | None = None) -> Any:
        self._record("delete", resource, name)
        if self.objects.pop((resource.plural, namespace or "", name), None) is None:
            raise NotFound(404, "NotFound", f"{resource.plural} {name!r} not found")
        return {}


class FakeView:
    def __init__(self) -> None:
        self.objects: dict[ObjectKey, dict[str, Any]] = {}

    def get(self, key: ObjectKey) -> dict[str, Any] | None:
        return self.objects.get(key)

    def by_index(self, index: str, value: str) -> list[dict[str, Any]]:
        assert index == CLUSTER_INDEX
        return [
            obj for obj in self.objects.values() if obj["metadata"].get("labels", {}).get(RAY_CLUSTER_LABEL) == value
        ]


@dataclass
class FakeCaches:
    """What the informers would show: a copy of the fake server taken by ``sync``."""

    rayclusters: FakeView = field(default_factory=FakeView)
    pods: FakeView = field(default_factory=FakeView)
    services: FakeView = field(default_factory=FakeView)
    serviceaccounts: FakeView = field(default_factory=FakeView)
    roles: FakeView = field(default_factory=FakeView)
    rolebindings: FakeView = field(default_factory=FakeView)

    def sync(
        self,
        api: FakeApi,
        *,
        ready: bool = True,
        kinds: tuple[str, ...] = ("rayclusters", "pods", "services", "serviceaccounts", "roles", "rolebindings"),
    ) -> None:
        """Catch up with the server; pods run (and are Ready unless ``ready`` is false), as a kubelet would."""
        for plural in kinds:
            view: FakeView = getattr(self, plural)
            view.objects.clear()
            for obj in api.of(plural):
                if plural == "pods" and "status" not in obj:
                    condition = {"type": "Ready", "status": "True" if ready else "False"}
                    index = len(api.of("pods"))
                    obj["status"] = {"phase": "Running", "podIP": f"10.244.0.{index}", "conditions": [condition]}
                view.objects[ObjectKey(obj["metadata"]["namespace"], obj["metadata"]["name"])] = copy.deepcopy(obj)


class FakeEvents:
    def __init__(self) -> None:
        self.emitted: list[tuple[str, str, str]] = []

    async def emit(self, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        self.emitted.append((type_, reason, message))

    def reasons(self) -> list[str]:
        return [reason for _, reason, _ in self.emitted]


class FakeMetrics:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def cluster_info(self, name: str, namespace: str, owner_kind: str) -> None:
        self.calls.append(("info", name, namespace, owner_kind))

    def cluster_provisioned(self, name: str, namespace: str, provisioned: bool) -> None:
        self.calls.append(("provisioned", name, namespace, provisioned))

    def cluster_provisioned_duration(self, name: str, namespace: str, duration_s: float) -> None:
        self.calls.append(("duration", name, namespace, duration_s))

    def forget_cluster(self, name: str, namespace: str) -> None:
        self.calls.append(("forget", name, namespace))


@dataclass
class World:
    """A fake server, its caches, and the deps of a reconcile wired to them."""

    api: FakeApi = field(default_factory=FakeApi)
    caches: FakeCaches = field(default_factory=FakeCaches)
    events: FakeEvents = field(default_factory=FakeEvents)
    metrics: FakeMetrics = field(default_factory=FakeMetrics)
    clock: FakeClock = field(default_factory=FakeClock)

    def __post_init__(self) -> None:
        self.inflight = InFlight(clock=self.clock, expiry_s=30.0)
        self.deps = RayClusterDeps(
            kube=self.api,
            caches=self.caches,
            events=self.events,
            clock=self.clock,
            rng=random.Random(1),
            inflight=self.inflight,
            metrics=self.metrics,
        )

    def writes(self, since: int = 0) -> list[tuple[str, str, str]]:
        return [(w.verb, w.resource, w.name) for w in self.api.writes[since:]]
