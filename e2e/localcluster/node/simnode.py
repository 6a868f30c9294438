"""A simulated node: pods become Running and Ready at once, with unique loopback addresses and no processes.

Stands in for the node agent in tests and benchmarks that need pods but not real containers.

Guarantees:
1. Registers a Ready Node object named `node_name` and binds every unbound pod to it.
2. A bound pod gets phase Running, a unique `podIP` from 127.16.0.0/12 (reachable on loopback, so a fake
   service can tell pods apart by the address it was reached on), Ready conditions and container statuses;
   `ready=False` pods (per the `not_ready` predicate) stay Running but not Ready.
3. A pod with a deletionTimestamp is removed at once (what a kubelet does after its grace period).
4. `set_pod_ready(ns, name, ready)` and `fail_pod(ns, name)` change a pod's state for tests.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from e2e.localcluster.apiserver.errors import ApiError
from e2e.localcluster.apiserver.schema.builtins import bind_pod
from e2e.localcluster.apiserver.schema.resources import ResourceType
from e2e.localcluster.apiserver.storage.objects import deep_copy, meta
from e2e.localcluster.apiserver.storage.rest import Api
from e2e.localcluster.apiserver.storage.store import Event, Obj

PODS = ("", "pods")
_BASE = int(ipaddress.IPv4Address("127.16.0.1"))


class SimulatedNode:
    def __init__(self, api: Api, *, node_name: str = "sim-node",
                 not_ready: Callable[[Obj], bool] | None = None) -> None:
        self.api = api
        self.node_name = node_name
        self.not_ready = not_ready or (lambda _pod: False)
        self._next_ip = 0

    def _rt(self, plural: str) -> ResourceType:
        rt = self.api.registry.lookup("", "v1", plural)
        assert rt is not None
        return rt

    def register(self) -> None:
        nodes = self._rt("nodes")
        if self.api.store.get(nodes.group_resource, "", self.node_name) is None:
            self.api.create(nodes, "", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.node_name,
                                        "labels": {"kubernetes.io/hostname": self.node_name}},
                                        "status": {"conditions": [{"type": "Ready", "status": "True",
                                                                   "reason": "KubeletReady"}],
                                                   "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                                                   "capacity": {"cpu": "64", "memory": "256Gi", "pods": "5000"}}})

    async def run(self) -> None:
        store = self.api.store
        sub = store.subscribe(PODS)
        try:
            self.register()
            for pod in store.list(PODS):
                self._sync(pod)
            while True:
                batch = await sub.next_batch()
                if batch is None:
                    return
                for ev in batch:
                    self._handle(ev)
        finally:
            store.unsubscribe(sub)

    def _handle(self, ev: Event) -> None:
        if ev.type == "DELETED":
            return
        current = self.api.store.get(PODS, meta(ev.obj).get("namespace", ""), meta(ev.obj)["name"])
        if current is not None:
            self._sync(current)

    def _sync(self, pod: Obj) -> None:
        m = meta(pod)
        ns, name = m.get("namespace", ""), m["name"]
        try:
            if m.get("deletionTimestamp"):
                self.api.delete(self._rt("pods"), ns, name, {"gracePeriodSeconds": 0})
                return
            if not (pod.get("spec") or {}).get("nodeName"):
                bind_pod(self.api, ns, name, {"target": {"name": self.node_name}})
                return
            if (pod.get("spec") or {}).get("nodeName") != self.node_name:
                return
            status = pod.get("status") or {}
            if status.get("phase") in ("Failed", "Succeeded"):
                return
            if status.get("phase") != "Running":
                self._write_status(pod, ready=not self.not_ready(pod), ip=self._allocate_ip())
        except ApiError:
            pass  # raced with a delete or another writer; the next event brings the current state

    def _allocate_ip(self) -> str:
        self._next_ip += 1
        return str(ipaddress.IPv4Address(_BASE + self._next_ip))

    def _write_status(self, pod: Obj, *, ready: bool, ip: str | None = None, phase: str = "Running") -> None:
        now = self.api.now()
        status = deep_copy(pod.get("status") or {})
        flag = "True" if ready else "False"
        scheduled = [c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"]
        status["conditions"] = [*scheduled,
                                {"type": "Initialized", "status": "True", "lastTransitionTime": now},
                                {"type": "ContainersReady", "status": flag, "lastTransitionTime": now},
                                {"type": "Ready", "status": flag, "lastTransitionTime": now}]
        status["phase"] = phase
        if ip is not None:
            status["podIP"] = ip
            status["podIPs"] = [{"ip": ip}]
            status["hostIP"] = "127.0.0.1"
            status.setdefault("startTime", now)
        running = phase == "Running"
        status["containerStatuses"] = [
            {"name": c.get("name"), "ready": ready and running, "restartCount": 0, "image": c.get("image", ""),
             "imageID": "", "started": running,
             "state": {"running": {"startedAt": now}} if running else
             {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": now}}}
            for c in (pod.get("spec") or {}).get("containers") or []]
        self.api.update(self._rt("pods"), meta(pod).get("namespace", ""), meta(pod)["name"],
                        {**pod, "status": status}, subresource="status")

    def set_pod_ready(self, namespace: str, name: str, ready: bool) -> None:
        self._write_status(self.api.get(self._rt("pods"), namespace, name), ready=ready)

    def fail_pod(self, namespace: str, name: str) -> None:
        self._write_status(self.api.get(self._rt("pods"), namespace, name), ready=False, phase="Failed")


def pod_ip_of(pod: dict[str, Any]) -> str:
    return str((pod.get("status") or {}).get("podIP") or "")
