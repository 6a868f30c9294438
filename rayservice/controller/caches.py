"""The shared informer caches every reconciler reads: one informer set per watched namespace scope.

Guarantees:
1. `build_caches` makes one informer per resource and namespace scope (one cluster-wide scope when no
   namespace is given); Pods and Services are label-filtered to Ray objects, so the operator never caches
   unrelated workloads.
2. A `CacheView` answers reads across its scopes: `get(key)` from the scope of the key's namespace,
   `list(namespace)` and `by_index(index, value)` over every scope.
3. Pods are indexed by the `ray.io/cluster` label (`CLUSTER_INDEX`), Services and EndpointSlices by the
   Service name label too, so reconcilers never scan a whole cache.
4. Pods are cached as `slim_pod` keeps them: `apiVersion`, `kind`, the whole `metadata` (without
   `managedFields`) and, of `status`, `phase`, `podIP`, `podIPs`, `hostIP`, `conditions`, `reason`, `message`
   and `startTime`. That is every pod field the reconcilers read (names, labels, owners, deletion and creation
   times; phase, IP and the Ready condition); the pod spec and container statuses, four fifths of a pod, are
   never read, and at 1,000 RayServices they were 40 MiB of the operator's memory.
5. EndpointSlices are cached as `slim_endpoint_slice` keeps them: `apiVersion`, `kind`, `metadata`,
   `addressType` and, of each endpoint, `addresses`, `conditions` and `targetRef` (what the RayService
   reconciler counts); their ports are never read.
6. RayServices and RayClusters are cached without the `kubectl.kubernetes.io/last-applied-configuration`
   annotation (a second copy of the whole object that `kubectl apply` keeps; nothing reads it).
7. Every cached object's strings are shared (`rayservice.informers.share_strings`), after the trimming above.
8. ServiceAccounts, Roles and RoleBindings (the autoscaler's, made per autoscaling RayCluster) are cached only
   when labelled `app.kubernetes.io/created-by=rayservice-operator`, as Services are.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from rayservice.api import CREATED_BY_LABEL, CREATED_BY_VALUE, IS_RAY_NODE_LABEL, RAY_CLUSTER_LABEL, ObjectKey
from rayservice.clock import SYSTEM_CLOCK, Clock
from rayservice.informers import (
    DEFAULT_INDEXERS,
    IndexFunc,
    Informer,
    ListerWatcher,
    RawObject,
    Transform,
    by_label,
    share_strings,
)
from rayservice.kube import PODS, RAY_CLUSTERS, RAY_SERVICES, SERVICES, Resource

ENDPOINT_SLICES: Final = Resource("discovery.k8s.io", "v1", "endpointslices", kind="EndpointSlice")
SERVICE_ACCOUNTS: Final = Resource("", "v1", "serviceaccounts", kind="ServiceAccount")
ROLES: Final = Resource("rbac.authorization.k8s.io", "v1", "roles", kind="Role")
ROLE_BINDINGS: Final = Resource("rbac.authorization.k8s.io", "v1", "rolebindings", kind="RoleBinding")
CLUSTER_INDEX: Final = "ray-cluster"
SERVICE_NAME_INDEX: Final = "service-name"
SERVICE_NAME_LABEL: Final = "kubernetes.io/service-name"
CREATED_BY_SELECTOR: Final = f"{CREATED_BY_LABEL}={CREATED_BY_VALUE}"


LAST_APPLIED_ANNOTATION: Final = "kubectl.kubernetes.io/last-applied-configuration"
POD_STATUS_FIELDS: Final = frozenset(
    {"phase", "podIP", "podIPs", "hostIP", "conditions", "reason", "message", "startTime"}
)


def slim_pod(pod: RawObject) -> RawObject:
    """Guarantee 4: the pod as the caches keep it."""
    slim: dict[str, Any] = {key: pod[key] for key in ("apiVersion", "kind", "metadata") if key in pod}
    status = pod.get("status")
    if isinstance(status, Mapping):
        slim["status"] = {key: value for key, value in status.items() if key in POD_STATUS_FIELDS}
    return slim


def without_last_applied(obj: RawObject) -> RawObject:
    """Guarantee 6 (a shallow copy only when there is something to drop)."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        return obj
    annotations = metadata.get("annotations")
    if not isinstance(annotations, Mapping) or LAST_APPLIED_ANNOTATION not in annotations:
        return obj
    kept = {key: value for key, value in annotations.items() if key != LAST_APPLIED_ANNOTATION}
    return {**obj, "metadata": {**metadata, "annotations": kept}}


def slim_endpoint_slice(piece: RawObject) -> RawObject:
    """Guarantee 5: the EndpointSlice as the caches keep it."""
    kept = ("apiVersion", "kind", "metadata", "addressType")
    slim: dict[str, Any] = {key: piece[key] for key in kept if key in piece}
    endpoints = piece.get("endpoints")
    if isinstance(endpoints, list):
        slim["endpoints"] = [
            {key: value for key, value in endpoint.items() if key in ("addresses", "conditions", "targetRef")}
            if isinstance(endpoint, Mapping)
            else endpoint
            for endpoint in endpoints
        ]
    return slim


def cached_form(trim: Transform | None = None) -> Transform:
    """The whole transform of a cache: ``trim`` (if any), then shared strings (guarantee 7)."""
    return _shared(trim)


def _shared(trim: Transform | None = None) -> Transform:
    if trim is None:
        return share_strings
    return lambda obj: share_strings(trim(obj))


@dataclass
class CacheView:
    """Reads over the informers of one resource, one per namespace scope."""

    informers: builtins.list[Informer]
    namespaces: builtins.list[str] = field(default_factory=builtins.list)

    def get(self, key: ObjectKey) -> RawObject | None:
        if not self.namespaces:
            return self.informers[0].get(key)
        for ns, informer in zip(self.namespaces, self.informers, strict=True):
            if ns == key.namespace:
                return informer.get(key)
        return None

    def list(self, namespace: str | None = None) -> builtins.list[RawObject]:
        out: builtins.list[RawObject] = []
        for informer in self.informers:
            out.extend(o for o in informer.list()
                       if namespace is None or (o.get("metadata") or {}).get("namespace") == namespace)
        return out

    def by_index(self, index: str, value: str) -> builtins.list[RawObject]:
        out: builtins.list[RawObject] = []
        for informer in self.informers:
            out.extend(informer.by_index(index, value))
        return out


@dataclass
class Caches:
    rayservices: CacheView
    rayclusters: CacheView
    pods: CacheView
    services: CacheView
    endpointslices: CacheView
    serviceaccounts: CacheView
    roles: CacheView
    rolebindings: CacheView

    @property
    def informers(self) -> builtins.list[Informer]:
        views = (self.rayservices, self.rayclusters, self.pods, self.services, self.endpointslices,
                 self.serviceaccounts, self.roles, self.rolebindings)
        return [i for view in views for i in view.informers]


def build_caches(source: ListerWatcher, namespaces: Sequence[str] = (), *, clock: Clock = SYSTEM_CLOCK) -> Caches:
    scopes = list(dict.fromkeys(namespaces))
    informer_scopes: builtins.list[str | None] = list(scopes) or [None]

    def view(resource: Resource, selector: str | None = None,
             extra: Mapping[str, IndexFunc] | None = None, trim: Transform | None = None) -> CacheView:
        indexers = {**DEFAULT_INDEXERS, **(extra or {})}
        informers = [Informer(source, resource, namespace=ns, label_selector=selector, indexers=indexers,
                              clock=clock, transform=_shared(trim)) for ns in informer_scopes]
        return CacheView(informers, scopes)

    cluster_index = {CLUSTER_INDEX: by_label(RAY_CLUSTER_LABEL)}
    return Caches(
        rayservices=view(RAY_SERVICES, trim=without_last_applied),
        rayclusters=view(RAY_CLUSTERS, trim=without_last_applied),
        pods=view(PODS, f"{IS_RAY_NODE_LABEL}=yes", cluster_index, slim_pod),
        services=view(SERVICES, CREATED_BY_SELECTOR, cluster_index),
        endpointslices=view(ENDPOINT_SLICES, None, {SERVICE_NAME_INDEX: by_label(SERVICE_NAME_LABEL)},
                            slim_endpoint_slice),
        serviceaccounts=view(SERVICE_ACCOUNTS, CREATED_BY_SELECTOR),
        roles=view(ROLES, CREATED_BY_SELECTOR),
        rolebindings=view(ROLE_BINDINGS, CREATED_BY_SELECTOR),
    )
