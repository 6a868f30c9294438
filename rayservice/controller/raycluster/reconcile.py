"""Reconcile one RayCluster: observe (caches) -> ``plan_pass`` (pure) -> apply (Services, then pod deletes, then
pod creates) -> status.

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
5. Pods follow ``plan_pass`` (``plan_pods``): deletes first (NotFound counts as done), then creates. A created
   name stays in ``deps.inflight`` until the cache shows it, so a stale cache never leads to a second create;
   AlreadyExists counts as created. A suspended cluster loses its pods, keeps its Services.
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
11. An autoscaling cluster (``enableInTreeAutoscaling``): its autoscaler's ServiceAccount, Role and RoleBinding
   are ensured after the Services and before any pod (``rbac_apply``: created when missing, patched when
   they drifted, never written when they match); once the pods its autoscaler named in ``workersToDelete``
   are gone from the cache, the lists are cleared with one patch conditional on the cached resourceVersion,
   after the pod writes, and that pass writes no status (its own patch made the cached version stale; the
   patch's watch event wakes the next pass).
12. GCS fault tolerance on Redis (``redis_cleanup``): a valid cluster gets the finalizer
   ``ray.io/gcs-ft-redis-cleanup-finalizer`` in a pass of its own, before any pod; a cluster being deleted
   that carries it is finalized step by step (``redis_cleanup_apply.finalize``: pods, then the cleanup Job, then
   the finalizer) instead of being left to garbage collection. ``redis_cleanup=False`` adds none and lets an
   existing one go.
13. Ray token authentication (``auth``): in token mode without ``secretName``, the Secret named after the
   cluster is ensured after the autoscaler's RBAC and before any pod (``auth_apply``: read once, created with a
   random token when missing, never rotated).

Caller must: hand each key to one worker at a time (the work queue does) and share one ``RayClusterDeps``,
so one ``InFlight``, among all reconciles of a controller.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import structlog

from rayservice.api import CONDITION_RAY_CLUSTER_PROVISIONED, NODE_TYPE_HEAD, ObjectKey
from rayservice.clock import Clock
from rayservice.controller.caches import CLUSTER_INDEX
from rayservice.controller.events import NORMAL, WARNING
from rayservice.controller.objects import (
    CacheReader,
    EventEmitter,
    KubeWriter,
    RawObject,
    controlled_by_other,
    ensure_service,
    find_condition,
    metadata,
    name_of,
    namespace_of,
    node_type_of,
    parse_time,
    raycluster_status,
    write_status_if_changed,
)
from rayservice.controller.raycluster.auth_apply import KnownSecrets, ensure_auth_secret
from rayservice.controller.raycluster.inflight import InFlight
from rayservice.controller.raycluster.plan import ClusterObserved, ClusterPassPlan, plan_pass
from rayservice.controller.raycluster.rbac_apply import (
    ExistingNames,
    RbacCaches,
    clear_workers_to_delete,
    ensure_rbac,
)
from rayservice.controller.raycluster.redis_cleanup import has_finalizer, should_add_finalizer
from rayservice.controller.raycluster.redis_cleanup_apply import ensure_finalizer, finalize
from rayservice.controller.raycluster.status import STARTING_REQUEUE_S, compute_status, requeue_after_s
from rayservice.informers import controller_owner
from rayservice.kube import PODS, RAY_CLUSTERS, AlreadyExists, ApiError, NotFound
from rayservice.runtime import DONE, Result, WrittenVersions

NO_OWNER_KIND: Final = "None"
"""``owner_kind`` of a RayCluster nobody controls, as KubeRay labels it."""

_log = structlog.get_logger(__name__)


class ClusterCaches(RbacCaches, Protocol):
    """The caches a RayCluster reconcile reads; ``rayservice.controller.caches.Caches`` is one."""

    @property
    def rayclusters(self) -> CacheReader: ...

    @property
    def pods(self) -> CacheReader: ...

    @property
    def services(self) -> CacheReader: ...


class RayClusterMetrics(Protocol):
    """KubeRay's RayCluster gauges; ``rayservice.metrics.OperatorMetrics`` is one."""

    def cluster_info(self, name: str, namespace: str, owner_kind: str) -> None: ...

    def cluster_provisioned(self, name: str, namespace: str, provisioned: bool) -> None: ...

    def cluster_provisioned_duration(self, name: str, namespace: str, duration_s: float) -> None: ...

    def forget_cluster(self, name: str, namespace: str) -> None: ...


@dataclass(frozen=True, slots=True)
class RayClusterDeps:
    """Everything a RayCluster reconcile reads from and writes with."""

    kube: KubeWriter
    caches: ClusterCaches
    events: EventEmitter
    clock: Clock
    rng: random.Random
    inflight: InFlight
    metrics: RayClusterMetrics
    written: WrittenVersions = field(default_factory=WrittenVersions)
    existing: ExistingNames = field(default_factory=ExistingNames)
    redis_cleanup: bool = True
    """The Redis cleanup of GCS fault tolerant clusters (``ENABLE_GCS_FT_REDIS_CLEANUP``), see ``redis_cleanup``."""
    auth_secrets: KnownSecrets = field(default_factory=KnownSecrets)


async def reconcile(key: ObjectKey, deps: RayClusterDeps) -> Result:
    """Move one RayCluster a step toward its spec (see the module docstring)."""
    cluster = deps.caches.rayclusters.get(key)
    if cluster is not None and metadata(cluster).get("deletionTimestamp") and has_finalizer(cluster):
        pods = observe(key, cluster, deps).pods  # guarantee 12
        return await finalize(
            cluster, pods, kube=deps.kube, events=deps.events, now=deps.clock.now(), cleanup_enabled=deps.redis_cleanup
        )
    if cluster is None or metadata(cluster).get("deletionTimestamp"):
        deps.inflight.forget(key)  # garbage collection removes the pods and Services
        deps.written.forget(key)
        deps.auth_secrets.forget(key)
        deps.metrics.forget_cluster(key.name, key.namespace)
        return DONE
    if deps.written.is_stale(key, metadata(cluster).get("resourceVersion")):
        _log.debug("cache_behind_own_write")  # guarantee 10
        return DONE
    owner = controller_owner(cluster)
    deps.metrics.cluster_info(key.name, key.namespace, str(owner.get("kind")) if owner else NO_OWNER_KIND)
    observed = observe(key, cluster, deps)
    plan = plan_pass(observed, rng=deps.rng)
    if plan.problems:
        status = compute_status(cluster, [], None, now=deps.clock.now(), problems=list(plan.problems))
        if await write_status(cluster, status, deps):
            await deps.events.emit(cluster, WARNING, "InvalidSpec", "; ".join(str(p) for p in plan.problems))
        return DONE  # the next spec edit wakes us
    if should_add_finalizer(cluster, cleanup_enabled=deps.redis_cleanup):
        await ensure_finalizer(cluster, deps.kube)  # guarantee 12, before any pod
        return DONE  # the patch's watch event wakes the next pass
    head_service = await apply_plan(key, cluster, plan, deps)
    if plan.waiting or plan.clear_workers_to_delete is not None:
        return Result(requeue_after_s=STARTING_REQUEUE_S)  # guarantee 7: the new pods' events wake us
    status = compute_status(cluster, observed.pods, head_service, now=deps.clock.now(), problems=[])
    await write_status(cluster, status, deps)
    return Result(requeue_after_s=requeue_after_s(status))


def observe(key: ObjectKey, cluster: RawObject, deps: RayClusterDeps) -> ClusterObserved:
    """The cluster's pods as the cache shows them, and the names created earlier that it does not show yet."""
    pods = [pod for pod in deps.caches.pods.by_index(CLUSTER_INDEX, key.name) if namespace_of(pod) == key.namespace]
    in_flight = deps.inflight.pending(key, seen={name_of(pod) for pod in pods})
    return ClusterObserved(cluster, pods, frozenset(in_flight))


async def apply_plan(
    key: ObjectKey, cluster: RawObject, plan: ClusterPassPlan, deps: RayClusterDeps
) -> RawObject | None:
    """Guarantees 4-5, 11 and 13, in that order; the head Service as it now is (None when it is not ours)."""
    ensured = [await _ensure_service(cluster, desired, deps) for desired in plan.services]
    await ensure_rbac(
        cluster, plan.rbac, kube=deps.kube, caches=deps.caches, events=deps.events, existing=deps.existing
    )
    if plan.auth_secret is not None:
        await ensure_auth_secret(
            cluster, plan.auth_secret, kube=deps.kube, events=deps.events, known=deps.auth_secrets
        )
    for name in plan.pods.delete:
        await delete_pod(cluster, name, "head" if name in plan.heads else "worker", deps)
        deps.inflight.discard(key, name)
    for pod in plan.pods.create:
        await create_pod(key, cluster, pod, deps)
    if plan.clear_workers_to_delete is not None:
        await clear_workers_to_delete(cluster, plan.clear_workers_to_delete, deps.kube)
    return ensured[0] if ensured else None


async def _ensure_service(cluster: RawObject, desired: dict[str, Any], deps: RayClusterDeps) -> RawObject | None:
    """Guarantee 4: create or patch one Service; the Service as it now is, or None when it is not ours."""
    name, namespace = name_of(desired), namespace_of(desired)
    done = await ensure_service(
        deps.kube,
        deps.caches.services.get(ObjectKey(namespace, name)),
        desired,
        is_foreign=lambda service: controlled_by_other(service, cluster, kind="RayCluster"),
    )
    if done.action == "foreign":
        message = f"Service {namespace}/{name} exists and is controlled by another object"
        await deps.events.emit(cluster, WARNING, "FailedToCreateService", message)
    elif done.action == "patched" and done.patch is not None:
        fields = ", ".join(sorted(f"{part}.{field}" for part, owned in done.patch.items() for field in owned))
        await deps.events.emit(cluster, NORMAL, "UpdatedService", f"Updated Service {namespace}/{name}: {fields}")
    return done.service


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


async def write_status(cluster: RawObject, status: dict[str, Any], deps: RayClusterDeps) -> bool:
    """Guarantees 7-8: replace the stored status unless it is equal, then the metrics; True when written."""
    name, namespace = name_of(cluster), namespace_of(cluster)
    provisioned = _is_provisioned(status)
    deps.metrics.cluster_provisioned(name, namespace, provisioned)
    if await write_status_if_changed(deps.kube, RAY_CLUSTERS, cluster, status, deps.written) is None:
        return False
    created = parse_time(metadata(cluster).get("creationTimestamp"))
    if provisioned and not _is_provisioned(raycluster_status(cluster)) and created is not None:
        deps.metrics.cluster_provisioned_duration(name, namespace, (deps.clock.now() - created).total_seconds())
    return True


def _is_provisioned(status: Mapping[str, Any]) -> bool:
    condition = find_condition(status.get("conditions"), CONDITION_RAY_CLUSTER_PROVISIONED)
    return condition is not None and condition.get("status") == "True"
