"""The shared informer caches every reconciler reads: one informer set per watched namespace scope.

Guarantees:
1. `build_caches` makes one informer per resource and namespace scope (one cluster-wide scope when no
   namespace is given); Pods and Services are label-filtered to Ray objects, so the operator never caches
   unrelated workloads.
2. A `CacheView` answers reads across its scopes: `get(key)` from the scope of the key's namespace,
   `list(namespace)` and `by_index(index, value)` over every scope.
3. Pods are indexed by the `ray.io/cluster` label (`CLUSTER_INDEX`), Services and EndpointSlices by the
   Service name label too, so reconcilers never scan a whole cache.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from rayservice.api import CREATED_BY_LABEL, CREATED_BY_VALUE, IS_RAY_NODE_LABEL, RAY_CLUSTER_LABEL, ObjectKey
from rayservice.clock import SYSTEM_CLOCK, Clock
from rayservice.informers import DEFAULT_INDEXERS, IndexFunc, Informer, ListerWatcher, RawObject, by_label
from rayservice.kube import PODS, RAY_CLUSTERS, RAY_SERVICES, SERVICES, Resource

ENDPOINT_SLICES: Final = Resource("discovery.k8s.io", "v1", "endpointslices", kind="EndpointSlice")
CLUSTER_INDEX: Final = "ray-cluster"
SERVICE_NAME_INDEX: Final = "service-name"
SERVICE_NAME_LABEL: Final = "kubernetes.io/service-name"
CREATED_BY_SELECTOR: Final = f"{CREATED_BY_LABEL}={CREATED_BY_VALUE}"


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

    @property
    def informers(self) -> builtins.list[Informer]:
        return [i for view in (self.rayservices, self.rayclusters, self.pods, self.services, self.endpointslices)
                for i in view.informers]


def build_caches(source: ListerWatcher, namespaces: Sequence[str] = (), *, clock: Clock = SYSTEM_CLOCK) -> Caches:
    scopes = list(dict.fromkeys(namespaces))
    informer_scopes: builtins.list[str | None] = list(scopes) or [None]

    def view(resource: Resource, selector: str | None = None,
             extra: Mapping[str, IndexFunc] | None = None) -> CacheView:
        indexers = {**DEFAULT_INDEXERS, **(extra or {})}
        informers = [Informer(source, resource, namespace=ns, label_selector=selector, indexers=indexers,
                              clock=clock) for ns in informer_scopes]
        return CacheView(informers, scopes)

    cluster_index = {CLUSTER_INDEX: by_label(RAY_CLUSTER_LABEL)}
    return Caches(
        rayservices=view(RAY_SERVICES),
        rayclusters=view(RAY_CLUSTERS),
        pods=view(PODS, f"{IS_RAY_NODE_LABEL}=yes", cluster_index),
        services=view(SERVICES, CREATED_BY_SELECTOR, cluster_index),
        endpointslices=view(ENDPOINT_SLICES, None, {SERVICE_NAME_INDEX: by_label(SERVICE_NAME_LABEL)}),
    )
