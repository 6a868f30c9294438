"""A Manager running the RayCluster controller against an embedded API server with a simulated node.

The operator talks through its own client (user agent ``raycluster-operator``), so the server's request log
tells its writes from the tests' own requests. Conditions read the in-memory server (no HTTP, nothing logged)
and are re-checked whenever the operator's informers see a change or a reconcile ends, within a deadline.
"""

from __future__ import annotations

import asyncio
import collections
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from kubernetes.aio import client as k8s
from kubernetes.aio import config as k8s_config
from prometheus_client import CollectorRegistry

from e2e.localcluster.apiserver import LocalApiServer, RequestInfo
from rayservice.api import ObjectKey
from rayservice.clock import SYSTEM_CLOCK
from rayservice.controller.caches import build_caches
from rayservice.controller.events import EventRecorder
from rayservice.controller.raycluster.setup import raycluster_controller
from rayservice.informers import EventHandlers
from rayservice.kube import KubeClient, Resource
from rayservice.metrics import OperatorMetrics
from rayservice.runtime import Controller, Manager
from tests.wakeup import Signal as Signal

ROOT = Path(__file__).resolve().parents[2]
CRD_DIR = ROOT / "manifests" / "crd"
CRDS = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", namespaced=False)
NAMESPACE = "default"
OPERATOR = "raycluster-operator"
DEADLINE_S = 10.0
WRITES = frozenset({"create", "update", "patch", "delete", "deletecollection"})
PODS_GR = ("", "pods")
SERVICES_GR = ("", "services")
CLUSTERS_GR = ("ray.io", "rayclusters")
EVENTS_GR = ("", "events")


async def new_client(kubeconfig: Path, agent: str) -> KubeClient:
    """A client whose requests carry ``agent``; its rate limit is far above what the embedded server takes."""
    configuration = k8s.Configuration()
    await k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig), client_configuration=configuration
    )
    api = k8s.ApiClient(configuration)
    kube = KubeClient(api, qps=5000.0, burst=5000)
    api.user_agent = agent
    return kube


async def install_crds(kube: KubeClient) -> None:
    for path in sorted(CRD_DIR.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                await kube.create(CRDS, doc)


class CountingMetrics(OperatorMetrics):
    """The operator's metrics, also counting finished reconciles and busy workers, and signalling both."""

    def __init__(self, registry: CollectorRegistry, signal: Signal) -> None:
        super().__init__(registry)
        self.results: collections.Counter[str] = collections.Counter()
        self.busy = 0
        self._signal = signal

    def reconciled(self, controller: str, result: str, duration_s: float) -> None:
        super().reconciled(controller, result, duration_s)
        self.results[result] += 1
        self._signal.notify()

    def active_workers(self, controller: str, count: int) -> None:
        super().active_workers(controller, count)
        self.busy = count
        self._signal.notify()


class RayClusterOperator:
    """The manager as ``rayservice run`` wires it, reduced to the RayCluster controller."""

    def __init__(self, kube: KubeClient, *, workers: int = 4, seed: int = 7, redis_cleanup: bool = True) -> None:
        self.kube = kube
        self.signal = Signal()
        self.metrics = CountingMetrics(CollectorRegistry(), self.signal)
        self.manager = Manager(shutdown_timeout_s=DEADLINE_S)
        caches = build_caches(kube, [NAMESPACE])
        wake = EventHandlers(on_add=self.signal.notify, on_update=self.signal.notify, on_delete=self.signal.notify)
        for informer in caches.informers:
            informer.add_handlers(wake)
            self.manager.add_informer(informer)
        self.controller: Controller = raycluster_controller(
            kube,
            caches,
            workers=workers,
            clock=SYSTEM_CLOCK,
            rng=random.Random(seed),
            metrics=self.metrics,
            events=EventRecorder(kube),
            redis_cleanup=redis_cleanup,
        )
        self.manager.add(self.controller)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.manager.run(), name="raycluster-operator")
        await self.signal.until(lambda: self.manager.is_ready, poll_s=0.01)

    async def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.manager.stop()
            async with asyncio.timeout(DEADLINE_S):
                await self.task

    @property
    def idle(self) -> bool:
        return len(self.controller.queue) == 0 and self.metrics.busy == 0

    async def until(self, predicate: Callable[[], bool], *, deadline_s: float = DEADLINE_S) -> None:
        """Return once ``predicate()`` holds, re-checked on every change the operator sees."""
        await self.signal.until(predicate, deadline_s=deadline_s)

    async def reconcile_now(self, key: ObjectKey) -> None:
        """Enqueue ``key`` by hand and return once it was reconciled and no work is left."""
        before = sum(self.metrics.results.values())
        self.controller.enqueue(key)
        await self.until(lambda: sum(self.metrics.results.values()) > before and self.idle)


def raycluster(name: str, *, replicas: int = 1, **spec: Any) -> dict[str, Any]:
    def template(container: str) -> dict[str, Any]:
        limits = {"cpu": "1", "memory": "1Gi"}
        return {
            "spec": {
                "containers": [{"name": container, "image": "rayproject/ray:2.60.0", "resources": {"limits": limits}}]
            }
        }

    group = {
        "groupName": "small",
        "replicas": replicas,
        "minReplicas": 0,
        "maxReplicas": 5,
        "rayStartParams": {},
        "template": template("ray-worker"),
    }
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "rayVersion": "2.60.0",
            "headGroupSpec": {"rayStartParams": {}, "template": template("ray-head")},
            "workerGroupSpecs": [group],
            **spec,
        },
    }


# ---- what the server holds -----------------------------------------------------------------------


def stored(server: LocalApiServer, gr: tuple[str, str], name: str) -> dict[str, Any] | None:
    return server.store.get(gr, NAMESPACE, name)


def pods_of(server: LocalApiServer, cluster: str, node_type: str | None = None) -> list[dict[str, Any]]:
    return [
        pod
        for pod in server.store.list(PODS_GR, NAMESPACE)
        if (labels := pod["metadata"].get("labels") or {}).get("ray.io/cluster") == cluster
        and (node_type is None or labels.get("ray.io/node-type") == node_type)
    ]


def pod_names(server: LocalApiServer, cluster: str, node_type: str | None = None) -> set[str]:
    return {pod["metadata"]["name"] for pod in pods_of(server, cluster, node_type)}


def state_of(server: LocalApiServer, cluster: str) -> str | None:
    obj = stored(server, CLUSTERS_GR, cluster)
    return None if obj is None else str((obj.get("status") or {}).get("state", ""))


def is_converged(server: LocalApiServer, cluster: str, workers: int, state: str = "ready") -> bool:
    obj = stored(server, CLUSTERS_GR, cluster)
    status = (obj or {}).get("status") or {}
    return (
        status.get("state") == state
        and status.get("readyWorkerReplicas") == workers
        and len(pod_names(server, cluster, "head")) == (0 if state == "suspended" else 1)
        and len(pod_names(server, cluster, "worker")) == workers
    )


def events_of(server: LocalApiServer, cluster: str, reason: str | None = None) -> list[dict[str, Any]]:
    return [
        event
        for event in server.store.list(EVENTS_GR, NAMESPACE)
        if event.get("involvedObject", {}).get("name") == cluster and reason in (None, event.get("reason"))
    ]


def writes_by(server: LocalApiServer, agent: str, *, since: int = 0) -> list[RequestInfo]:
    return [r for r in server.faults.log[since:] if r.user_agent == agent and r.verb in WRITES]
