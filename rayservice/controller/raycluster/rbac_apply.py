"""Writes the autoscaler's ServiceAccount, Role and RoleBinding (``rbac.desired_rbac``) and clears the
``workersToDelete`` lists the autoscaler's deletes have finished (``scaling.clear_patch``).

Guarantees:
1. Reads come from the label-filtered caches only. A missing object is created; one the cache shows,
   controlled by this RayCluster, whose owned fields differ (``rbac.rbac_patch``) gets one merge patch of
   those fields (event ``UpdatedServiceAccount``/``UpdatedRole``/``UpdatedRoleBinding``); a matching one
   costs no write.
2. An object of that name that the cache cannot show (not labelled as ours) is left alone: its create,
   answered AlreadyExists, gets one warning event (``FailedToCreateServiceAccount``, ``FailedToCreateRole``,
   ``FailedToCreateRoleBinding``) and is remembered (``ExistingNames``), so later passes do not send it again.
   One the cache shows that another object controls, or a RoleBinding whose immutable ``roleRef`` differs, is
   left alone too. Creating emits no event (the objects say so, as for Services and pods).
3. A failed write other than AlreadyExists emits the warning event above and is raised, so the worker retries
   with backoff.
4. ``clear_workers_to_delete`` sends the clear patch (its resourceVersion precondition may answer 409
   Conflict, raised for the worker to requeue quietly).

Caller must: share one ``ExistingNames`` among the reconciles of a controller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import structlog

from rayservice.controller.caches import ROLE_BINDINGS, ROLES, SERVICE_ACCOUNTS
from rayservice.controller.events import NORMAL, WARNING
from rayservice.controller.objects import (
    CacheReader,
    EventEmitter,
    KubeWriter,
    RawObject,
    controlled_by_other,
    name_of,
    namespace_of,
)
from rayservice.controller.raycluster.rbac import RbacObject, has_foreign_role_ref, rbac_patch
from rayservice.keys import ObjectKey
from rayservice.kube import RAY_CLUSTERS, AlreadyExists, ApiError, Resource

_RESOURCES: Final = {"ServiceAccount": SERVICE_ACCOUNTS, "Role": ROLES, "RoleBinding": ROLE_BINDINGS}
_log = structlog.get_logger(__name__)


class RbacCaches(Protocol):
    """The caches ``ensure_rbac`` reads; ``rayservice.controller.caches.Caches`` is one."""

    @property
    def serviceaccounts(self) -> CacheReader: ...

    @property
    def roles(self) -> CacheReader: ...

    @property
    def rolebindings(self) -> CacheReader: ...


@dataclass
class ExistingNames:
    """Objects whose create was answered AlreadyExists while the cache does not show them (guarantee 2)."""

    names: set[tuple[str, str, str]] = field(default_factory=set)

    def add(self, kind: str, key: ObjectKey) -> None:
        self.names.add((kind, key.namespace, key.name))

    def __contains__(self, item: tuple[str, ObjectKey]) -> bool:
        kind, key = item
        return (kind, key.namespace, key.name) in self.names


async def ensure_rbac(
    cluster: RawObject,
    objects: tuple[RbacObject, ...],
    *,
    kube: KubeWriter,
    caches: RbacCaches,
    events: EventEmitter,
    existing: ExistingNames,
) -> None:
    """Guarantees 1-3, for each object in order."""
    for obj in objects:
        await _ensure_one(cluster, obj, kube=kube, caches=caches, events=events, existing=existing)


async def _ensure_one(
    cluster: RawObject,
    obj: RbacObject,
    *,
    kube: KubeWriter,
    caches: RbacCaches,
    events: EventEmitter,
    existing: ExistingNames,
) -> None:
    resource = _RESOURCES[obj.kind]
    key = ObjectKey(namespace_of(obj.body), obj.name)
    cached = _cache_of(caches, obj.kind).get(key)
    if cached is None:
        if (obj.kind, key) in existing:
            return
        await _create(cluster, obj, resource, key, kube=kube, events=events, existing=existing)
        return
    if controlled_by_other(cached, cluster, kind="RayCluster") or has_foreign_role_ref(cached, obj.body):
        return  # reported once, when its create was answered AlreadyExists
    patch = rbac_patch(cached, obj.body)
    if patch is None:
        return
    failed, updated = _reasons(obj.kind)
    try:
        await kube.patch(resource, key.name, patch, namespace=key.namespace)
    except ApiError as exc:
        await events.emit(cluster, WARNING, failed, f"Failed to update {_what(obj, key)}: {exc.message}")
        raise
    fields = ", ".join(sorted(_fields(patch)))
    await events.emit(cluster, NORMAL, updated, f"Updated {_what(obj, key)}: {fields}")


async def _create(
    cluster: RawObject,
    obj: RbacObject,
    resource: Resource,
    key: ObjectKey,
    *,
    kube: KubeWriter,
    events: EventEmitter,
    existing: ExistingNames,
) -> None:
    failed, _ = _reasons(obj.kind)
    try:
        await kube.create(resource, obj.body, namespace=key.namespace)
    except AlreadyExists:
        existing.add(obj.kind, key)
        message = f"{_what(obj, key)} exists and is not managed by this RayCluster; it is left as it is"
        await events.emit(cluster, WARNING, failed, message)
        return
    except ApiError as exc:
        await events.emit(cluster, WARNING, failed, f"Failed to create {_what(obj, key)}: {exc.message}")
        raise
    _log.info("autoscaler_rbac_created", kind=obj.kind, name=key.name)


async def clear_workers_to_delete(cluster: RawObject, patch: Mapping[str, Any], kube: KubeWriter) -> None:
    """Guarantee 4."""
    await kube.patch(RAY_CLUSTERS, name_of(cluster), patch, namespace=namespace_of(cluster))
    _log.info("workers_to_delete_cleared")


def _reasons(kind: str) -> tuple[str, str]:
    """The warning and the update event reasons for objects of ``kind`` (literal, so the docs can list them)."""
    failed = (
        "FailedToCreateServiceAccount"
        if kind == "ServiceAccount"
        else ("FailedToCreateRole" if kind == "Role" else "FailedToCreateRoleBinding")
    )
    updated = (
        "UpdatedServiceAccount"
        if kind == "ServiceAccount"
        else ("UpdatedRole" if kind == "Role" else "UpdatedRoleBinding")
    )
    return failed, updated


def _cache_of(caches: RbacCaches, kind: str) -> CacheReader:
    if kind == "ServiceAccount":
        return caches.serviceaccounts
    return caches.roles if kind == "Role" else caches.rolebindings


def _what(obj: RbacObject, key: ObjectKey) -> str:
    return f"{obj.kind} {key.namespace}/{key.name}"


def _fields(patch: Mapping[str, Any]) -> list[str]:
    out = [f"metadata.labels.{label}" for label in sorted(patch.get("metadata", {}).get("labels", {}))]
    return out + [key for key in patch if key != "metadata"]
