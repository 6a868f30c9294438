"""The embedded cluster's controllers (garbage collector, namespaces, CRD cleanup, EndpointSlices, ReplicaSets,
Deployments, Jobs, ClusterRole aggregation, the Gateway API), run together.

Guarantees:
1. `run(stop)` runs every controller in one TaskGroup until `stop` is set, then cancels and awaits them all;
   no task outlives it.
2. A controller that fails stops the others, and its error comes out of `run()` (or `stop()`): never a
   silently half-working cluster.
3. Each controller starts from what the store holds when it subscribes, so nothing written before (or while)
   they start is missed.
4. `set_gc_paused(True)` keeps the garbage collector from writing until `set_gc_paused(False)`; it then
   catches up with everything that happened meanwhile.

Caller must: use either `run()` (structured) or `start()`/`stop()` (one owned task), on the loop that owns the
store.
"""

from __future__ import annotations

import asyncio

from e2e.localcluster.apiserver.storage.rest import Api
from e2e.localcluster.gateway import SERVED_CONTROLLERS

from .clusterroleaggregation import ClusterRoleAggregationController
from .deployments import DeploymentController
from .endpoints import EndpointSliceController
from .gateways import GatewayController
from .gc import GarbageCollector
from .jobs import JobController
from .kubernetes_service import KubernetesServiceController
from .namespaces import CrdCleanupController, NamespaceController
from .replicasets import ReplicaSetController
from .serviceaccounts import ServiceAccountController


class Controllers:
    def __init__(self, api: Api, *, namespace_content_delay_s: float = 1.0,
                 service_cidr: str = "10.96.0.0/16",
                 gateway_controller_names: tuple[str, ...] = SERVED_CONTROLLERS) -> None:
        self.gc = GarbageCollector(api)
        self.namespaces = NamespaceController(api, content_delay_s=namespace_content_delay_s)
        self.crd_cleanup = CrdCleanupController(api)
        self.endpoints = EndpointSliceController(api)
        self.kubernetes_service = KubernetesServiceController(api, service_cidr=service_cidr)
        self.serviceaccounts = ServiceAccountController(api)
        self.clusterrole_aggregation = ClusterRoleAggregationController(api)
        self.gateways = GatewayController(api, controller_names=gateway_controller_names)
        self.workloads = (ReplicaSetController(api), DeploymentController(api), JobController(api))
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    async def run(self, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(self.gc.run(), name="localcluster-gc"),
                     tg.create_task(self.namespaces.run(), name="localcluster-namespaces"),
                     tg.create_task(self.crd_cleanup.run(), name="localcluster-crd-cleanup"),
                     tg.create_task(self.endpoints.run(), name="localcluster-endpointslices"),
                     tg.create_task(self.kubernetes_service.run(), name="localcluster-kubernetes-service"),
                     tg.create_task(self.serviceaccounts.run(), name="localcluster-serviceaccounts"),
                     tg.create_task(self.clusterrole_aggregation.run(), name="localcluster-clusterrole-aggregation"),
                     tg.create_task(self.gateways.run(), name="localcluster-gateways"),
                     *(tg.create_task(c.run(), name=f"localcluster-{c.name}") for c in self.workloads)]
            await stop.wait()
            for task in tasks:
                task.cancel()

    async def start(self) -> None:
        """Run the controllers in one task owned by this object until `stop()`."""
        if self._task is None:
            self._stop = asyncio.Event()
            self._task = asyncio.create_task(self.run(self._stop), name="localcluster-controllers")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None or self._stop is None:
            return
        self._stop.set()
        await task

    def set_gc_paused(self, paused: bool) -> None:
        if paused:
            self.gc.pause()
        else:
            self.gc.resume()


async def run_controllers(api: Api, *, stop: asyncio.Event) -> None:
    """Run every controller against `api` until `stop` is set."""
    await Controllers(api).run(stop)
