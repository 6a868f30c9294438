"""A small in-process cluster for the workload controller tests: the Api, simulated pods and a fake clock."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from e2e.localcluster.apiserver.controllers.deployments import DeploymentController
from e2e.localcluster.apiserver.controllers.gc import GarbageCollector
from e2e.localcluster.apiserver.controllers.jobs import JobController
from e2e.localcluster.apiserver.controllers.replicasets import ReplicaSetController
from e2e.localcluster.apiserver.schema.builtins import builtin_hooks
from e2e.localcluster.apiserver.schema.resources import Registry, ResourceType
from e2e.localcluster.apiserver.storage.objects import rfc3339
from e2e.localcluster.apiserver.storage.rest import Api
from e2e.localcluster.apiserver.storage.store import Event, Store
from e2e.localcluster.node.simnode import SimulatedNode
from rayservice.testing import FakeClock, settle

Obj = dict[str, Any]
NS = "default"


@dataclass
class Cluster:
    api: Api
    clock: FakeClock
    node: SimulatedNode

    def rt(self, plural: str) -> ResourceType:
        for rt in self.api.registry:
            if rt.plural == plural:
                return rt
        raise AssertionError(f"{plural} are not served")

    def create(self, plural: str, body: Obj) -> Obj:
        return self.api.create(self.rt(plural), NS, body).obj

    def get(self, plural: str, name: str) -> Obj:
        return self.api.get(self.rt(plural), NS, name)

    def patch(self, plural: str, name: str, body: Obj) -> Obj:
        return self.api.patch(self.rt(plural), NS, name, "application/merge-patch+json", body).obj

    def pods(self, *, active_only: bool = True) -> list[Obj]:
        pods = self.api.store.list(("", "pods"), NS)
        if active_only:
            pods = [p for p in pods if not p["metadata"].get("deletionTimestamp")
                    and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        return pods

    def replicasets(self) -> list[Obj]:
        return self.api.store.list(("apps", "replicasets"), NS)

    def set_pod_phase(self, name: str, phase: str) -> None:
        pod = self.get("pods", name)
        status = {**(pod.get("status") or {}), "phase": phase}
        self.api.update(self.rt("pods"), NS, name, {**pod, "status": status}, subresource="status")

    async def wait_for(self, condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
        """Wait until `condition` holds, re-checking after every store write."""
        sub = self.api.store.subscribe(None)
        try:
            async with asyncio.timeout(timeout_s):
                while not condition():
                    assert await sub.queue.get() is not None
        finally:
            self.api.store.unsubscribe(sub)

    async def step(self, seconds: float) -> None:
        await settle()
        self.clock.step(seconds)
        await settle()

    def watch(self, check: Callable[[Event], None]) -> Callable[[], None]:
        """Run `check` after every store write until the returned function is called."""
        sub = self.api.store.subscribe(None)

        async def follow() -> None:
            while (batch := await sub.next_batch()) is not None:
                for ev in batch:
                    check(ev)

        task = asyncio.get_running_loop().create_task(follow())

        def stop() -> None:
            self.api.store.unsubscribe(sub)
            task.cancel()

        return stop


@contextlib.asynccontextmanager
async def running_cluster(*, not_ready: Callable[[Obj], bool] | None = None) -> AsyncIterator[Cluster]:
    clock = FakeClock()
    store = Store()
    api = Api(store, Registry(), builtin_hooks(rng=random.Random(7)), now=lambda: rfc3339(clock.now()))
    api.create(api.registry.lookup("", "v1", "namespaces"), "",  # type: ignore[arg-type]
               {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    node = SimulatedNode(api, not_ready=not_ready)
    rng = random.Random(11)
    runnables = [ReplicaSetController(api, clock=clock, rng=rng), DeploymentController(api, clock=clock, rng=rng),
                 JobController(api, clock=clock, rng=rng), GarbageCollector(api), node]
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(r.run()) for r in runnables]
        try:
            yield Cluster(api, clock, node)
        finally:
            for task in tasks:
                task.cancel()


def deployment(name: str = "web", replicas: int = 3, image: str = "nginx:1.0", **spec: Any) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "main", "image": image}]}}, **spec}}

