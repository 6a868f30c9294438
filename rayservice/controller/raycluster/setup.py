"""The RayCluster controller: the reconcile function bound to its dependencies, and the informers that wake it.

Guarantees:
1. A RayCluster add, update or delete enqueues that RayCluster, except the echo of the controller's own status
   write (``written.ignore_own_echo``).
2. A Pod add, update or delete enqueues the RayCluster its ``ray.io/cluster`` label names (the label the
   reconcile reads pods by), in the pod's namespace; a Service event enqueues its controlling RayCluster
   (``ray.io``), so Services of a RayService never wake a RayCluster; so does an event of the autoscaler's
   ServiceAccount, Role or RoleBinding.
3. The controller reads only the shared ``caches`` it is given and adds no informer of its own: the caller
   runs every informer of ``caches`` (``Manager.add_informer``) before the controller starts.
4. One ``InFlight`` tracker per controller, on the controller's clock.
"""

from __future__ import annotations

import random
from typing import Final, Protocol

from rayservice.api import RAY_CLUSTER_LABEL
from rayservice.clock import Clock
from rayservice.controller.caches import Caches
from rayservice.controller.objects import EventEmitter, KubeWriter
from rayservice.controller.raycluster.inflight import InFlight
from rayservice.controller.raycluster.reconcile import (
    RayClusterDeps,
    RayClusterMetrics,
    reconcile,
)
from rayservice.controller.wiring import controller_for
from rayservice.informers import enqueue_by_label, enqueue_owner
from rayservice.queue import QueueMetrics
from rayservice.runtime import Controller, ReconcileMetrics

CONTROLLER_NAME: Final = "raycluster"


class RayClusterControllerMetrics(RayClusterMetrics, ReconcileMetrics, QueueMetrics, Protocol):
    """What the controller reports to; ``rayservice.metrics.OperatorMetrics`` is one."""


def raycluster_controller(
    kube: KubeWriter,
    caches: Caches,
    *,
    workers: int,
    clock: Clock,
    rng: random.Random,
    metrics: RayClusterControllerMetrics,
    events: EventEmitter,
    redis_cleanup: bool = True,
) -> Controller:
    """The RayCluster controller, watching the informers of ``caches`` (see the module docstring)."""
    deps = RayClusterDeps(
        kube=kube,
        caches=caches,
        events=events,
        clock=clock,
        rng=rng,
        inflight=InFlight(clock=clock),
        metrics=metrics,
        redis_cleanup=redis_cleanup,
    )
    own = caches.rayclusters.informers
    controller = controller_for(CONTROLLER_NAME, reconcile, deps, own=own, workers=workers, metrics=metrics)
    for informer in caches.pods.informers:
        controller.watch(informer, enqueue_by_label(RAY_CLUSTER_LABEL))
    for view in (caches.services, caches.serviceaccounts, caches.roles, caches.rolebindings):
        for informer in view.informers:
            controller.watch(informer, enqueue_owner("RayCluster", group="ray.io"))
    return controller
