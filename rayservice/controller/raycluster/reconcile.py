"""Reconcile one RayCluster: its head and dashboard Services, one head pod, its workers, then its status.

Guarantees:
1. Idempotent and level-triggered: a reconcile reads the cluster, its pods and its Services from the informer
   caches only, and a reconcile of a converged cluster makes no API write at all.
2. A cluster that is missing from the cache or being deleted needs nothing: owner references let the garbage
   collector remove its pods and Services. Its in-flight names and metric series are dropped.
3. An invalid spec (``validate_cluster``) creates, patches and deletes nothing (pods and Services made for an
   earlier valid spec stay as they are): the status gets the ``ReplicaFailure``/``ValidationFailed``
   condition, and one ``InvalidSpec`` warning event names every problem when that status is written (not
   again while the spec and its problems stay the same).
4. Services: a missing one is created; an existing one whose owned fields (selector, ports, type, labels,
   annotations, controller reference) differ gets one merge patch of those fields only, so its clusterIP
   stays; a Service of the same name controlled by another object is left alone, with a warning event.
5. Pods follow ``plan_pods``: deletes first (NotFound counts as done), then creates. A created name stays in
   ``deps.inflight`` until the cache shows it, so a stale cache never leads to a second create; AlreadyExists
   counts as created. A suspended cluster loses its pods, keeps its Services.
6. Events only for actions a user would not infer from the objects themselves, and for failures:
   ``UpdatedService``, ``DeletedHeadPod``, ``DeletedWorkerPod``; warnings ``FailedToCreatePod``,
   ``FailedToDeletePod``, ``FailedToCreateService``, ``InvalidSpec``. Creating a Service or a pod emits none
   (the new object says so; one event per child was a third of a new RayService's API writes). Failed writes
   are raised after their event, so the worker retries with backoff.
7. Status is computed once (``compute_status``) and is the last write (only the ``InvalidSpec`` event, which
   reports that write, follows it): ``write_status_if_changed`` replaces it only when it differs from the
   stored one (the order of conditions aside), conditional on the cached resourceVersion, so a stale cache
   gets 409 Conflict, which the worker requeues quietly. A pass that created pods, or that still waits for
   the cache to show pods created earlier (``deps.inflight``), writes no status: it would report a state
   the cache is known to be behind, only to be replaced when the pods' watch events wake the next pass
   (``STARTING_REQUEUE_S`` still bounds the wait, and in-flight names expire, should an event be lost).
8. Metrics: ``kuberay_cluster_info`` and ``kuberay_cluster_condition_provisioned`` follow every reconcile;
   ``kuberay_cluster_provisioned_duration_seconds`` is set once, by the write that first makes
   ``RayClusterProvisioned`` true (creation to that write).
9. The result asks for another look after ``requeue_after_s(status)`` while pods start, never when steady.
10. A pass that finds in the cache the very resourceVersion its own last status write replaced does nothing:
   the cache is behind that write (``WrittenVersions``), every write would get 409, and the write's watch
   event, on its way, wakes the key again.

Caller must: hand each key to one worker at a time (the work queue does) and share one ``RayClusterDeps``,
so one ``InFlight``, among all reconciles of a controller.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol

import structlog

from rayservice.api import CONDITION_RAY_CLUSTER_PROVISIONED, NODE_TYPE_HEAD, ObjectKey
from rayservice.clock import Clock
from rayservice.controller.caches import CLUSTER_INDEX
from rayservice.controller.events import NORMAL, WARNING
from rayservice.controller.raycluster._objects import (
    RawObject,
    mapping,
    metadata,
    name_of,
    namespace_of,
    node_type_of,
    sequence,
)
from rayservice.controller.raycluster.desired import desired_dashboard_service, desired_head_service
from rayservice.controller.raycluster.inflight import InFlight
from rayservice.controller.raycluster.plan import plan_pods
from rayservice.controller.raycluster.service_patch import controlled_by_other, service_patch
from rayservice.controller.raycluster.status import STARTING_REQUEUE_S, compute_status, requeue_after_s
from rayservice.controller.raycluster.validate import validate_cluster
from rayservice.informers import controller_owner
from rayservice.kube import PODS, RAY_CLUSTERS, SERVICES, AlreadyExists, ApiError, NotFound, Patch, Resource
from rayservice.runtime import DONE, Result, WrittenVersions

NO_OWNER_KIND: Final = "None"
"""``owner_kind`` of a RayCluster nobody controls, as KubeRay labels it."""

_log = structlog.get_logger(__name__)


class ClusterApi(Protocol):
    """The writes a RayCluster reconcile makes (plus one live read); ``rayservice.kube.KubeClient`` is one."""

    async def get(self, resource: Resource, name: str, *, namespace: str | None = None) -> dict[str, Any]: ...

    async def create(
        self, resource: Resource, body: Mapping[str, Any], *, namespace: str | None = None
    ) -> dict[str, Any]: ...

    async def patch(self, resource: Resource, name: str, patch: Patch, *, namespace: str | None = None) -> Any: ...

    async def replace_status(
        self, resource: Resource, name: str, body: Mapping[str, Any], *, namespace: str | None = None
    ) -> dict[str, Any]: ...

    async def delete(self, resource: Resource, name: str, *, namespace: str | None = None) -> Any: ...


class CacheReader(Protocol):
    def get(self, key: ObjectKey) -> RawObject | None: ...

    def by_index(self, index: str, value: str) -> Sequence[RawObject]: ...


class ClusterCaches(Protocol):
    """The caches a RayCluster reconcile reads; ``rayservice.controller.caches.Caches`` is one."""

    @property
    def rayclusters(self) -> CacheReader: ...

    @property
    def pods(self) -> CacheReader: ...

    @property
    def services(self) -> CacheReader: ...


class EventSink(Protocol):
    """``rayservice.controller.events.EventRecorder`` is one."""

    async def emit(self, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None: ...


class RayClusterMetrics(Protocol):
    """KubeRay's RayCluster gauges; ``rayservice.metrics.OperatorMetrics`` is one."""

    def cluster_info(self, name: str, namespace: str, owner_kind: str) -> None: ...

    def cluster_provisioned(self, name: str, namespace: str, provisioned: bool) -> None: ...

    def cluster_provisioned_duration(self, name: str, namespace: str, duration_s: float) -> None: ...

    def forget_cluster(self, name: str, namespace: str) -> None: ...


@dataclass(frozen=True, slots=True)
class RayClusterDeps:
    """Everything a RayCluster reconcile reads from and writes with."""

    kube: ClusterApi
    caches: ClusterCaches
    events: EventSink
    clock: Clock
    rng: random.Random
    inflight: InFlight
    metrics: RayClusterMetrics
    written: WrittenVersions = field(default_factory=WrittenVersions)


async def reconcile(key: ObjectKey, deps: RayClusterDeps) -> Result:
    """Move one RayCluster a step toward its spec (see the module docstring)."""
    cluster = deps.caches.rayclusters.get(key)
    if cluster is None or metadata(cluster).get("deletionTimestamp"):
        deps.inflight.forget(key)  # garbage collection removes the pods and Services
        deps.written.forget(key)
        deps.metrics.forget_cluster(key.name, key.namespace)
        return DONE
    if deps.written.is_stale(key, metadata(cluster).get("resourceVersion")):
        _log.debug("cache_behind_own_write")  # guarantee 10
        return DONE
    owner = controller_owner(cluster)
    deps.metrics.cluster_info(key.name, key.namespace, str(owner.get("kind")) if owner else NO_OWNER_KIND)
    if problems := validate_cluster(cluster):
        status = compute_status(cluster, [], None, now=deps.clock.now(), problems=problems)
        if await write_status_if_changed(cluster, status, deps):
            await deps.events.emit(cluster, WARNING, "InvalidSpec", "; ".join(str(p) for p in problems))
        return DONE  # the next spec edit wakes us
    head_service = await ensure_service(cluster, desired_head_service(cluster), deps)
    await ensure_service(cluster, desired_dashboard_service(cluster), deps)
    pods, waiting = await ensure_pods(key, cluster, deps)
    if waiting:
        return Result(requeue_after_s=STARTING_REQUEUE_S)  # guarantee 7: the new pods' events wake us
    status = compute_status(cluster, pods, head_service, now=deps.clock.now(), problems=[])
    await write_status_if_changed(cluster, status, deps)
    return Result(requeue_after_s=requeue_after_s(status))


async def ensure_service(cluster: RawObject, desired: dict[str, Any], deps: RayClusterDeps) -> RawObject | None:
    """Create or patch one Service (guarantee 4); the Service as it now is, or None when it is not ours."""
    name, namespace = name_of(desired), namespace_of(desired)
    current = deps.caches.services.get(ObjectKey(namespace, name))
    if current is None:
        try:
            created = await deps.kube.create(SERVICES, desired, namespace=namespace)
        except AlreadyExists:
            current = await deps.kube.get(SERVICES, name, namespace=namespace)  # the cache is behind, or lacks it
        else:
            _log.info("service_created", service=name)
            return created
    if controlled_by_other(current, cluster):
        message = f"Service {namespace}/{name} exists and is controlled by another object"
        await deps.events.emit(cluster, WARNING, "FailedToCreateService", message)
        return None
    patch = service_patch(current, desired)
    if patch is None:
        return current
    updated = await deps.kube.patch(SERVICES, name, patch, namespace=namespace)
    fields = ", ".join(sorted(f"{part}.{field}" for part, owned in patch.items() for field in owned))
    await deps.events.emit(cluster, NORMAL, "UpdatedService", f"Updated Service {namespace}/{name}: {fields}")
    return updated if isinstance(updated, Mapping) else current


async def ensure_pods(key: ObjectKey, cluster: RawObject, deps: RayClusterDeps) -> tuple[list[RawObject], bool]:
    """Apply ``plan_pods`` (guarantee 5); the pods the cache shows, and whether some created pod is not among them."""
    pods = [pod for pod in deps.caches.pods.by_index(CLUSTER_INDEX, key.name) if namespace_of(pod) == key.namespace]
    in_flight = deps.inflight.pending(key, seen={name_of(pod) for pod in pods})
    plan = plan_pods(cluster, pods, in_flight=in_flight, rng=deps.rng)
    heads = {name_of(pod) for pod in pods if node_type_of(pod) == NODE_TYPE_HEAD}
    for name in plan.delete:
        await delete_pod(cluster, name, "head" if name in heads else "worker", deps)
        deps.inflight.discard(key, name)
    for pod in plan.create:
        await create_pod(key, cluster, pod, deps)
    return pods, bool(plan.create or in_flight)


async def create_pod(key: ObjectKey, cluster: RawObject, pod: dict[str, Any], deps: RayClusterDeps) -> None:
    name, namespace = name_of(pod), namespace_of(pod)
    role = "head" if node_type_of(pod) == NODE_TYPE_HEAD else "worker"
    deps.inflight.add(key, name)  # before sending: a create whose answer is lost still counts
    try:
        await deps.kube.create(PODS, pod, namespace=namespace)
    except AlreadyExists:
        return  # created by an earlier attempt whose answer was lost; it stays in flight until seen
    except ApiError as exc:
        deps.inflight.discard(key, name)  # the server answered: it did not create the pod
        message = f"Failed to create {role} Pod {namespace}/{name}: {exc.message}"
        await deps.events.emit(cluster, WARNING, "FailedToCreatePod", message)
        raise
    _log.info("pod_created", pod=name, role=role)


async def delete_pod(cluster: RawObject, name: str, role: str, deps: RayClusterDeps) -> None:
    namespace = namespace_of(cluster)
    try:
        await deps.kube.delete(PODS, name, namespace=namespace)
    except NotFound:
        return  # already gone: what we wanted
    except ApiError as exc:
        message = f"Failed to delete {role} Pod {namespace}/{name}: {exc.message}"
        await deps.events.emit(cluster, WARNING, "FailedToDeletePod", message)
        raise
    _log.info("pod_deleted", pod=name, role=role)
    reason = "DeletedHeadPod" if role == "head" else "DeletedWorkerPod"
    await deps.events.emit(cluster, NORMAL, reason, f"Deleted {role} Pod {namespace}/{name}")


async def write_status_if_changed(cluster: RawObject, status: dict[str, Any], deps: RayClusterDeps) -> bool:
    """Replace the stored status with ``status`` unless they are equal (guarantee 7); True when written."""
    name, namespace = name_of(cluster), namespace_of(cluster)
    provisioned = _is_provisioned(status)
    deps.metrics.cluster_provisioned(name, namespace, provisioned)
    stored = mapping(cluster.get("status"))
    if _ordered(stored) == _ordered(status):
        return False
    body = {**cluster, "status": status}
    answer = await deps.kube.replace_status(RAY_CLUSTERS, name, body, namespace=namespace)
    old_version, new_version = metadata(cluster).get("resourceVersion"), metadata(answer).get("resourceVersion")
    deps.written.replaced(ObjectKey(namespace, name), old_version, new_version)
    _log.debug("status_written", state=status.get("state"))
    created = _parse_time(metadata(cluster).get("creationTimestamp"))
    if provisioned and not _is_provisioned(stored) and created is not None:
        deps.metrics.cluster_provisioned_duration(name, namespace, (deps.clock.now() - created).total_seconds())
    return True


def _ordered(status: Mapping[str, Any]) -> dict[str, Any]:
    """``status`` with its conditions sorted by type: their order carries no meaning."""
    conditions = sorted(sequence(status.get("conditions")), key=lambda item: str(mapping(item).get("type")))
    return {**status, "conditions": conditions} if "conditions" in status else dict(status)


def _is_provisioned(status: Mapping[str, Any]) -> bool:
    return any(
        mapping(item).get("type") == CONDITION_RAY_CLUSTER_PROVISIONED and mapping(item).get("status") == "True"
        for item in sequence(status.get("conditions"))
    )


def _parse_time(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
