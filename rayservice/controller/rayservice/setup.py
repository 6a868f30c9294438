"""Wiring the RayService controller: its reconcile function, its dependencies, and which events wake which keys.

Guarantees:
1. A RayService event enqueues that RayService, except the echo of the controller's own status write when
   that write stopped recording no cluster as active or pending (``written.ignore_own_echo``: the pass that
   wrote it already acted on everything else it shows).
   A RayCluster or Service event enqueues the RayService that controls the object (``ray.io`` RayService
   owner references only). An EndpointSlice event enqueues the RayService that controls the slice's Service
   (found in the Service cache), so ``numServeEndpoints`` and ``Ready`` follow the endpoints.
2. The controller is named ``rayservice``; its queue and reconciles report to ``metrics``, which also
   receives the ``kuberay_service_*`` values and upgrade durations.

Caller must: add ``caches.informers`` to the manager (once, however many controllers share them) and the
returned controller with ``manager.add``.
"""

from __future__ import annotations

import random
from typing import Final, Protocol

from rayservice.api import ObjectKey
from rayservice.clock import Clock
from rayservice.controller.caches import SERVICE_NAME_LABEL, Caches
from rayservice.controller.objects import EventEmitter, KubeWriter, RawObject, labels_of, namespace_of
from rayservice.controller.raycluster import ClusterTokens
from rayservice.controller.rayservice.deps import (
    DashboardFactory,
    Deps,
    RayServiceMetrics,
)
from rayservice.controller.rayservice.memory import ClusterMemory
from rayservice.controller.rayservice.reconcile import reconcile
from rayservice.controller.wiring import controller_for
from rayservice.informers import KeyMapper, controller_owner, enqueue_owner
from rayservice.queue import QueueMetrics
from rayservice.runtime import Controller, ReconcileMetrics

CONTROLLER_NAME: Final = "rayservice"
_RAY_GROUP: Final = "ray.io"
_KIND: Final = "RayService"


class ControllerMetrics(QueueMetrics, ReconcileMetrics, RayServiceMetrics, Protocol):
    """Everything the RayService controller reports; ``rayservice.metrics.OperatorMetrics`` is one."""


def rayservice_controller(
    kube: KubeWriter,
    caches: Caches,
    *,
    dashboard_factory: DashboardFactory,
    workers: int,
    clock: Clock,
    rng: random.Random,
    metrics: ControllerMetrics,
    events: EventEmitter,
    dashboard_port: int | None = None,
) -> Controller:
    """The RayService controller over ``caches`` (guarantees 1-2); ``dashboard_port`` overrides every head's."""
    deps = Deps(
        kube=kube,
        caches=caches,
        dashboard_factory=dashboard_factory,
        events=events,
        clock=clock,
        rng=rng,
        metrics=metrics,
        memory=ClusterMemory(),
        dashboard_port=dashboard_port,
        tokens=ClusterTokens(kube),
    )
    own = caches.rayservices.informers
    controller = controller_for(CONTROLLER_NAME, reconcile, deps, own=own, workers=workers, metrics=metrics)
    owner = enqueue_owner(_KIND, group=_RAY_GROUP)
    for informer in (*caches.rayclusters.informers, *caches.services.informers):
        controller.watch(informer, owner)
    for informer in caches.endpointslices.informers:
        controller.watch(informer, slice_owner(caches))
    return controller


def slice_owner(caches: Caches) -> KeyMapper:
    """Maps an EndpointSlice to the RayService controlling its Service (guarantee 1)."""

    def keys(obj: RawObject) -> list[ObjectKey]:
        service_name = labels_of(obj).get(SERVICE_NAME_LABEL)
        if not isinstance(service_name, str) or not service_name:
            return []
        namespace = namespace_of(obj)
        service = caches.services.get(ObjectKey(namespace, service_name))
        ref = controller_owner(service) if service is not None else None
        if ref is None or ref.get("kind") != _KIND or not str(ref.get("apiVersion", "")).startswith(_RAY_GROUP + "/"):
            return []
        return [ObjectKey(namespace, str(ref.get("name")))]

    return KeyMapper(keys)
