"""A Manager running the RayCluster and RayService controllers against an embedded API server with a simulated
node and a fake Ray dashboard that every head pod address reaches.

The operator talks through its own client (user agent ``rayservice-operator``), so the server's request log
tells its writes from the tests' own requests. Conditions read the in-memory server (no HTTP, nothing logged)
and are re-checked whenever the operator's informers see a change or a reconcile ends, within a deadline.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from prometheus_client import CollectorRegistry

from e2e.fakeray import FakeRayDashboard
from e2e.localcluster.apiserver import LocalApiServer, RequestInfo
from rayservice.api import ObjectKey
from rayservice.clock import SYSTEM_CLOCK, Clock
from rayservice.controller.caches import build_caches
from rayservice.controller.events import EventRecorder
from rayservice.controller.raycluster.setup import raycluster_controller
from rayservice.controller.rayservice import rayservice_controller
from rayservice.informers import EventHandlers
from rayservice.kube import KubeClient
from rayservice.metrics import OperatorMetrics
from rayservice.ray import HttpDashboardClient
from rayservice.runtime import Controller, Manager
from tests.integration.raycluster_harness import install_crds as install_crds
from tests.integration.raycluster_harness import new_client as new_client
from tests.integration.raycluster_harness import stored as stored
from tests.integration.raycluster_harness import writes_by as writes_by
from tests.wakeup import Signal as Signal

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "manifests" / "samples" / "ray.io_v1_rayservice.yaml"
NAMESPACE = "default"
OPERATOR = "rayservice-operator"
DEADLINE_S = 15.0
WRITES = frozenset({"create", "update", "patch", "delete", "deletecollection"})
SERVICES_GR = ("", "services")
CLUSTERS_GR = ("ray.io", "rayclusters")
RAYSERVICES_GR = ("ray.io", "rayservices")
EVENTS_GR = ("", "events")
PUT = "PUT"
APPLICATIONS = "/api/serve/applications/"


def sample_rayservice(**spec: Any) -> dict[str, Any]:
    """The v1 sample RayService, with ``spec`` keys overridden."""
    body: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    body["metadata"]["namespace"] = NAMESPACE
    body["spec"].update(spec)
    return body


class ServiceMetrics(OperatorMetrics):
    """The operator's metrics plus the RayService controller's, recorded for assertions, signalling changes."""

    def __init__(self, registry: CollectorRegistry, signal: Signal) -> None:
        super().__init__(registry)
        self.reconciles: collections.Counter[str] = collections.Counter()
        self.busy: dict[str, int] = {}
        self.services: dict[tuple[str, str], tuple[bool, bool]] = {}
        self.upgrades: list[float] = []
        self.rollouts: list[tuple[str, float]] = []
        self._signal = signal

    def reconciled(self, controller: str, result: str, duration_s: float) -> None:
        super().reconciled(controller, result, duration_s)
        self.reconciles[controller] += 1
        self._signal.notify()

    def active_workers(self, controller: str, count: int) -> None:
        super().active_workers(controller, count)
        self.busy[controller] = count
        self._signal.notify()

    def service_observed(self, name: str, namespace: str, *, ready: bool, upgrading: bool) -> None:
        self.services[(name, namespace)] = (ready, upgrading)

    def forget_service(self, name: str, namespace: str) -> None:
        self.services.pop((name, namespace), None)

    def service_upgraded(self, name: str, namespace: str, duration_s: float) -> None:
        self.upgrades.append(duration_s)

    def rollout_ended(self, name: str, namespace: str, *, kind: str, outcome: str, duration_s: float) -> None:
        super().rollout_ended(name, namespace, kind=kind, outcome=outcome, duration_s=duration_s)
        self.rollouts.append((outcome, duration_s))


class ShiftedClock:
    """The system clock whose ``now()`` a test moves ahead with ``shift``: thresholds, deadlines and backoffs
    measured in wall-clock time pass without sleeping. ``monotonic()`` and ``sleep`` stay real."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def shift(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self.offset_s += seconds

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset_s)

    async def sleep(self, seconds: float) -> None:
        await SYSTEM_CLOCK.sleep(seconds)


class Operator:
    """The manager as ``rayservice run`` wires both controllers, the dashboard reached on the fake's port;
    ``clock`` is the RayService controller's."""

    def __init__(
        self,
        kube: KubeClient,
        session: aiohttp.ClientSession,
        dashboard: FakeRayDashboard,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.signal = Signal(DEADLINE_S)
        self.metrics = ServiceMetrics(CollectorRegistry(), self.signal)
        self.manager = Manager(shutdown_timeout_s=DEADLINE_S)
        self.caches = caches = build_caches(kube, [NAMESPACE])
        wake = EventHandlers(on_add=self.signal.notify, on_update=self.signal.notify, on_delete=self.signal.notify)
        for informer in caches.informers:
            informer.add_handlers(wake)
            self.manager.add_informer(informer)
        events = EventRecorder(kube)
        self.clusters: Controller = raycluster_controller(
            kube, caches, workers=2, clock=SYSTEM_CLOCK, rng=random.Random(1), metrics=self.metrics, events=events
        )
        self.services: Controller = rayservice_controller(
            kube,
            caches,
            dashboard_factory=functools.partial(HttpDashboardClient, session=session),
            workers=2,
            clock=clock,
            rng=random.Random(2),
            metrics=self.metrics,
            events=events,
            dashboard_port=dashboard.port,
        )
        self.manager.add(self.clusters)
        self.manager.add(self.services)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.manager.run(), name="rayservice-operator")
        await self.signal.until(lambda: self.manager.is_ready, poll_s=0.01)

    async def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.manager.stop()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(DEADLINE_S):
                    await self.task

    @property
    def idle(self) -> bool:
        controllers = (self.clusters, self.services)
        return all(len(c.queue) == 0 and self.metrics.busy.get(c.name, 0) == 0 for c in controllers)

    async def until(self, predicate: Callable[[], bool], *, deadline_s: float = DEADLINE_S) -> None:
        await self.signal.until(predicate, deadline_s=deadline_s)

    def caught_up(self, server: LocalApiServer, key: ObjectKey) -> bool:
        """Idle, and the cache holds the RayService as the server stores it."""
        cached = self.caches.rayservices.get(key)
        held = server.store.get(RAYSERVICES_GR, key.namespace, key.name)
        version = (held or {}).get("metadata", {}).get("resourceVersion")
        return self.idle and cached is not None and cached["metadata"].get("resourceVersion") == version


# ---- what the server holds -----------------------------------------------------------------------


def status_of(server: LocalApiServer, name: str) -> dict[str, Any]:
    return (stored(server, RAYSERVICES_GR, name) or {}).get("status") or {}


def condition(server: LocalApiServer, name: str, kind: str) -> dict[str, Any]:
    for cond in status_of(server, name).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return {}


def clusters_of(server: LocalApiServer, service: str) -> list[str]:
    return sorted(
        c["metadata"]["name"]
        for c in server.store.list(CLUSTERS_GR, NAMESPACE)
        if (c["metadata"].get("labels") or {}).get("ray.io/originated-from-cr-name") == service
    )


def selector_of(server: LocalApiServer, service_name: str) -> dict[str, str]:
    svc = stored(server, SERVICES_GR, service_name) or {}
    return dict((svc.get("spec") or {}).get("selector") or {})


def events_of(server: LocalApiServer, name: str, reason: str | None = None) -> list[dict[str, Any]]:
    return [
        event
        for event in server.store.list(EVENTS_GR, NAMESPACE)
        if event.get("involvedObject", {}).get("name") == name and reason in (None, event.get("reason"))
    ]


def puts(dashboard: FakeRayDashboard, address: str | None = None) -> int:
    return dashboard.request_count(address, method=PUT, path=APPLICATIONS)


def cluster_creates(server: LocalApiServer) -> list[RequestInfo]:
    """The operator's RayCluster creates that the server accepted."""
    return [
        r for r in writes_by(server, OPERATOR) if r.resource == "rayclusters" and r.verb == "create" and r.code == 201
    ]


def lift_failures(dashboard: FakeRayDashboard, address: str) -> None:
    """Drop the fake dashboard's ``fail_next`` rules for ``address`` (it has no public way to end an outage)."""
    rules = dashboard._rules
    rules[:] = [rule for rule in rules if rule.address != address]
