"""Bench scenario ``autoscale``: N autoscaling RayClusters whose Ray autoscalers are simulated at Ray's loop rate.

Each simulated autoscaler does what Ray 2.60's ``KubeRayNodeProvider`` does every ``AUTOSCALER_UPDATE_INTERVAL_S``
(5 s) from its head pod: GET its RayCluster, GET the head pod, LIST the cluster's pods; it patches the RayCluster
only when it decides a change (a JSON patch of ``replicas``, and on scale-down ``workersToDelete`` naming the pod),
and, as ``safe_to_scale`` does, clears a ``workersToDelete`` list whose pods are all gone if the operator has not
already. Its demand is scripted: every ``period`` loops it scales its group up by one, and ``period / 2`` loops
later back down by one (clusters start at random phases, so changes are spread in time).

Two windows:
- active (``active_s``): operator API writes per minute (by verb and resource), per autoscaler change, operator
  CPU, RayCluster reconciles per minute and per change;
- quiet (``quiet_s``, the autoscalers keep reading but change nothing): operator writes (budget 0: no write
  without a change) and reconciles per minute (no reconcile storm: the autoscalers' reads wake nothing).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import json
import random
import time
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from bench.operator import Bench

LOOP_S = 5.0  # ray.autoscaler._private.constants.AUTOSCALER_UPDATE_INTERVAL_S in Ray 2.60
GROUP = "small-group"
AUTOSCALER_AGENT = "bench-autoscaler"


def autoscaling_cluster(sample: dict[str, Any], namespace: str, name: str) -> dict[str, Any]:
    spec = copy.deepcopy(sample["spec"]["rayClusterConfig"])
    spec["enableInTreeAutoscaling"] = True
    spec["autoscalerOptions"] = {"version": "v2", "idleTimeoutSeconds": 60}
    spec["workerGroupSpecs"][0].update({"replicas": 1, "minReplicas": 1, "maxReplicas": 3})
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


class Autoscaler:
    """One simulated Ray autoscaler (see the module docstring)."""

    def __init__(self, b: Bench, namespace: str, name: str, period: int, phase: int) -> None:
        self.b, self.namespace, self.name = b, namespace, name
        self.period, self.loop = period, phase
        self.changing = True
        self.changes = 0
        self.clears = 0
        self.headers = {"User-Agent": AUTOSCALER_AGENT}

    @property
    def path(self) -> str:
        return f"/apis/ray.io/v1/namespaces/{self.namespace}/rayclusters/{self.name}"

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            await self.once()
            self.loop += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, LOOP_S - (time.monotonic() - started)))

    async def once(self) -> None:
        cluster = await self._get(self.path)
        pods = (await self._get(f"/api/v1/namespaces/{self.namespace}/pods?labelSelector=ray.io/cluster={self.name}"))[
            "items"
        ]
        heads = [p for p in pods if p["metadata"]["labels"].get("ray.io/node-type") == "head"]
        if heads:
            await self._get(f"/api/v1/namespaces/{self.namespace}/pods/{heads[0]['metadata']['name']}")
        live = {
            p["metadata"]["name"]: p
            for p in pods
            if "deletionTimestamp" not in p["metadata"] and p["metadata"]["labels"].get("ray.io/group") == GROUP
        }
        group = cluster["spec"]["workerGroupSpecs"][0]
        doomed = list((group.get("scaleStrategy") or {}).get("workersToDelete") or [])
        if doomed:
            if any(name in live for name in doomed):
                return  # safe_to_scale: wait for the operator
            self.clears += 1
            await self._patch([_replace("/spec/workerGroupSpecs/0/scaleStrategy", {"workersToDelete": []})])
        if not self.changing:
            return
        replicas = int(group.get("replicas", 1))
        step = self.loop % self.period
        if step == 0 and replicas < int(group.get("maxReplicas", 3)):
            self.changes += 1
            await self._patch([_replace("/spec/workerGroupSpecs/0/replicas", replicas + 1)])
        elif step == self.period // 2 and replicas > int(group.get("minReplicas", 1)) and len(live) >= replicas:
            newest = max(live.values(), key=lambda p: p["metadata"].get("creationTimestamp", ""))
            self.changes += 1
            await self._patch(
                [
                    _replace("/spec/workerGroupSpecs/0/replicas", replicas - 1),
                    _replace(
                        "/spec/workerGroupSpecs/0/scaleStrategy", {"workersToDelete": [newest["metadata"]["name"]]}
                    ),
                ]
            )

    async def _get(self, path: str) -> Any:
        async with self.b.session.get(self.b.base + path, headers=self.headers) as r:
            r.raise_for_status()
            return await r.json()

    async def _patch(self, ops: list[dict[str, Any]]) -> None:
        headers = {**self.headers, "Content-Type": "application/json-patch+json"}
        async with self.b.session.patch(self.b.base + self.path, data=json.dumps(ops), headers=headers) as r:
            if r.status not in (200, 409):
                raise RuntimeError(f"PATCH {self.path}: {r.status} {await r.text()}")


def _replace(path: str, value: Any) -> dict[str, Any]:
    # "add" replaces an existing member and creates a missing one (scaleStrategy may be unset).
    return {"op": "add", "path": path, "value": value}


async def _ready(b: Bench, names: list[tuple[str, str]], deadline_s: float) -> float:
    started = time.monotonic()
    wanted = {(ns, name) for ns, name in names}
    while time.monotonic() - started < deadline_s:
        pods = (await b.get("/api/v1/pods?labelSelector=ray.io/is-ray-node=yes"))["items"]
        running: collections.Counter[tuple[str, str]] = collections.Counter()
        for pod in pods:
            key = (pod["metadata"]["namespace"], pod["metadata"]["labels"].get("ray.io/cluster", ""))
            if key in wanted and (pod.get("status") or {}).get("phase") == "Running":
                running[key] += 1
        if all(running[key] >= 2 for key in wanted):
            return time.monotonic() - started
        await asyncio.sleep(1.0)
    raise SystemExit(f"autoscale: not every cluster had its head and worker Running within {deadline_s} s")


def _reconciles(metrics: dict[str, float]) -> float:
    return sum(
        value
        for key, value in metrics.items()
        if key.startswith("controller_runtime_reconcile_total") and 'controller="raycluster"' in key
    )


def _kind(write: dict[str, Any]) -> str:
    sub = write.get("subresource")
    return f"{write.get('verb')} {write.get('resource')}{'/' + sub if sub else ''}"


async def autoscale(
    b: Bench, sample_path: str, n: int, active_s: float, quiet_s: float, rng: random.Random, namespaces: int
) -> None:
    """The scenario (see the module docstring); rows under ``autoscale``."""
    sample = yaml.safe_load(open(sample_path).read())  # noqa: ASYNC230 (setup, before timing)
    names = [(f"bench-{i % namespaces}", f"as-{i:04d}") for i in range(n)]
    for ns, name in names:
        async with b.session.post(
            f"{b.base}/apis/ray.io/v1/namespaces/{ns}/rayclusters", json=autoscaling_cluster(sample, ns, name)
        ) as r:
            if r.status != 201:
                raise SystemExit(f"autoscale: create {ns}/{name}: {r.status} {await r.text()}")
    ready_s = await _ready(b, names, deadline_s=max(60.0, n * 1.0))
    b.row("autoscale", f"{n} autoscaling RayClusters up (head + 1 worker)", ready_s, unit="s")
    period = 12  # one scale-up and one scale-down per minute per cluster at Ray's 5 s loop
    scalers = [Autoscaler(b, ns, name, period, rng.randrange(period)) for ns, name in names]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(s.run(stop)) for s in scalers]
    try:
        for window, seconds in (("active", active_s), ("quiet", quiet_s)):
            if window == "quiet":
                for s in scalers:
                    s.changing = False
                await asyncio.sleep(3 * LOOP_S)  # let the last changes settle before measuring quiet
            await b.clear_log()
            changes0 = sum(s.changes for s in scalers)
            reconciles0 = _reconciles(await b.operator_metrics())
            cpu0, t0 = b.proc_cpu_s(), time.monotonic()
            await asyncio.sleep(seconds)
            elapsed = time.monotonic() - t0
            cpu_pct = 100 * (b.proc_cpu_s() - cpu0) / elapsed
            writes = await b.operator_writes()
            reconciles = _reconciles(await b.operator_metrics()) - reconciles0
            changes = sum(s.changes for s in scalers) - changes0
            minutes = elapsed / 60
            by_kind = collections.Counter(_kind(w) for w in writes)
            b.raw[f"autoscale_{window}"] = {
                "elapsed_s": elapsed,
                "autoscaler_changes": changes,
                "autoscaler_clears": sum(s.clears for s in scalers),
                "operator_writes": len(writes),
                "writes_by_kind": dict(by_kind),
                "raycluster_reconciles": reconciles,
                "cpu_pct": cpu_pct,
            }
            if window == "active":
                b.row("autoscale", "autoscaler changes per minute", changes / minutes, unit="/min")
                b.row("autoscale", "operator API writes per minute", len(writes) / minutes, unit="/min")
                b.row("autoscale", "operator writes per autoscaler change", len(writes) / max(changes, 1))
                b.row("autoscale", "RayCluster reconciles per autoscaler change", reconciles / max(changes, 1))
                b.row("autoscale", "operator CPU while scaling (% of one core)", cpu_pct, unit="%")
            else:
                quiet_writes = len(writes) / minutes
                b.row("autoscale", "quiet: operator API writes per minute", quiet_writes, "0", not writes, "/min")
                quiet_passes = reconciles / minutes
                b.row(
                    "autoscale", "quiet: RayCluster reconciles per minute", quiet_passes, "0", reconciles == 0, "/min"
                )
                b.row("autoscale", "quiet: operator CPU (% of one core)", cpu_pct, unit="%")
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
