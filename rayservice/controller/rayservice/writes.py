"""The cluster and pod writes of the RayService reconciler: each compares before it writes and says what it did.

Guarantees:
1. (The status write and ``ensure_service`` are the shared ones of ``rayservice.controller.objects``.)
2. ``create_cluster`` treats AlreadyExists as done when the existing cluster is this RayService's (a create
   whose answer was lost, or a cache that lags); it returns False when the name belongs to someone else. Any
   other refusal (403 Forbidden, 422 Invalid, 5xx, ...) is a Warning ``FailedToCreateRayCluster`` event on the
   RayService carrying the API server's message (as KubeRay reports it), then raised for the retry.
3. ``delete_cluster`` and ``set_deadline`` treat NotFound as done. ``delete_cluster`` deletes only the
   incarnation it saw (uid precondition), and never a cluster whose deletion already started (a
   ``deletionTimestamp``: a finalizer such as the GCS fault tolerance Redis cleanup's may keep it for minutes):
   no second DELETE, no second ``DeletedCluster`` event.
5. Every create, delete and in-place scaling emits one Normal event on the RayService.
6. ``label_serve_pod`` sets a pod's ``ray.io/serve`` label; NotFound (the pod went away) is done.
7. ``store_last_good`` sets a cluster's last good Serve config annotation; NotFound is done.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import structlog

from rayservice.api import DELETE_AFTER_ANNOTATION, SERVE_LABEL, ObjectKey, format_kube_time
from rayservice.controller.events import NORMAL, WARNING
from rayservice.controller.objects import (
    RawObject,
    controller_uid,
    is_controlled_by,
    is_deleting,
    metadata,
    name_of,
    namespace_of,
    uid_of,
)
from rayservice.controller.rayservice.deps import Deps
from rayservice.controller.rayservice.patches import scale_patch
from rayservice.kube import PODS, RAY_CLUSTERS, AlreadyExists, ApiError, NotFound, Preconditions

REASON_CREATED_CLUSTER: Final = "CreatedCluster"
REASON_DELETED_CLUSTER: Final = "DeletedCluster"
REASON_CREATE_CLUSTER_FAILED: Final = "FailedToCreateRayCluster"
REASON_SCALED_CLUSTER: Final = "UpdatedCluster"

_log = structlog.get_logger(__name__)


async def create_cluster(service: RawObject, cluster: Mapping[str, Any], deps: Deps, *, why: str) -> bool:
    """Guarantee 2."""
    name, namespace = name_of(cluster), namespace_of(service)
    try:
        await deps.kube.create(RAY_CLUSTERS, cluster, namespace=namespace)
    except AlreadyExists:
        existing = await deps.kube.get(RAY_CLUSTERS, name, namespace=namespace)
        if is_controlled_by(existing, uid_of(service)):
            return True
        _log.warning("cluster_name_taken", cluster=name, owner_uid=controller_uid(existing))
        return False
    except ApiError as exc:  # without this event a missing permission would only show in the operator's log
        await deps.events.emit(
            service, WARNING, REASON_CREATE_CLUSTER_FAILED, f"Failed to create RayCluster {namespace}/{name}: {exc}"
        )
        raise
    _log.info("cluster_created", cluster=name, why=why)
    await deps.events.emit(service, NORMAL, REASON_CREATED_CLUSTER, f"Created RayCluster {namespace}/{name}: {why}")
    return True


async def delete_cluster(service: RawObject, cluster: RawObject | None, name: str, deps: Deps, *, why: str) -> None:
    """Guarantee 3; ``cluster`` is the cached object when there is one."""
    namespace = namespace_of(service)
    if cluster is not None and is_deleting(cluster):
        return  # the plan never asks for it; a write must not repeat a deletion (and its event) either
    preconditions = Preconditions(uid=uid_of(cluster)) if cluster is not None and uid_of(cluster) else None
    try:
        await deps.kube.delete(RAY_CLUSTERS, name, namespace=namespace, preconditions=preconditions)
    except NotFound:
        return
    deps.memory.forget(ObjectKey(namespace, name))
    _log.info("cluster_deleted", cluster=name, why=why)
    await deps.events.emit(service, NORMAL, REASON_DELETED_CLUSTER, f"Deleted RayCluster {namespace}/{name}: {why}")


async def set_deadline(service: RawObject, name: str, deadline: datetime | None, deps: Deps) -> None:
    """Set (or, with ``None``, remove) a cluster's deletion deadline annotation; guarantee 3."""
    value = format_kube_time(deadline) if deadline is not None else None
    patch = {"metadata": {"annotations": {DELETE_AFTER_ANNOTATION: value}}}
    try:
        await deps.kube.patch(RAY_CLUSTERS, name, patch, namespace=namespace_of(service))
    except NotFound:
        return
    _log.info("cluster_deadline_set", cluster=name, delete_after=value)


async def store_last_good(service: RawObject, name: str, annotation: str, value: str, deps: Deps) -> None:
    """Guarantee 7."""
    patch = {"metadata": {"annotations": {annotation: value}}}
    try:
        await deps.kube.patch(RAY_CLUSTERS, name, patch, namespace=namespace_of(service))
    except NotFound:
        return
    _log.info("last_good_serve_config_stored", cluster=name, size=len(value))


async def label_serve_pod(service: RawObject, pod: str, value: str, deps: Deps) -> None:
    """Guarantee 6."""
    patch = {"metadata": {"labels": {SERVE_LABEL: value}}}
    try:
        await deps.kube.patch(PODS, pod, patch, namespace=namespace_of(service))
    except NotFound:
        return
    _log.info("pod_serve_label_set", pod=pod, value=value)


async def scale_cluster(service: RawObject, cluster: RawObject, desired_spec: Mapping[str, Any], deps: Deps) -> None:
    """Apply a scaling-only change in place, conditional on the cached resourceVersion."""
    patch = scale_patch(cluster, desired_spec)
    if patch is None:
        return
    patch["metadata"] = {"resourceVersion": metadata(cluster).get("resourceVersion")}
    name = name_of(cluster)
    await deps.kube.patch(RAY_CLUSTERS, name, patch, namespace=namespace_of(service))
    _log.info("cluster_scaled", cluster=name)
    await deps.events.emit(service, NORMAL, REASON_SCALED_CLUSTER, f"Scaled the worker groups of RayCluster {name}")
