"""The simulated node: pods run (on paper) at once, with unique loopback addresses, and leave on delete."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from e2e.localcluster.apiserver import LocalApiServer

from .conftest import eventually

PODS = ("", "pods")


@pytest.fixture
async def sim() -> AsyncIterator[LocalApiServer]:
    server = LocalApiServer(port=0, simulate_node=True)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80}]}]}}


def _pods_rt(server: LocalApiServer) -> Any:
    return server.registry.lookup("", "v1", "pods")


async def test_pods_become_running_and_ready_with_unique_addresses(sim: LocalApiServer) -> None:
    for i in range(5):
        sim.api.create(_pods_rt(sim), "default", pod(f"p{i}"))

    async def all_ready() -> bool:
        pods = sim.store.list(PODS, "default")
        return len(pods) == 5 and all(
            any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
            for p in pods)

    await eventually(sim, all_ready)
    pods = sim.store.list(PODS, "default")
    ips = {p["status"]["podIP"] for p in pods}
    assert len(ips) == 5 and all(ip.startswith("127.") for ip in ips)
    assert {p["spec"]["nodeName"] for p in pods} == {"sim-node"}
    assert {p["status"]["phase"] for p in pods} == {"Running"}


async def test_a_deleted_pod_is_removed_and_a_service_gets_its_endpoints(sim: LocalApiServer) -> None:
    svc_rt = sim.registry.lookup("", "v1", "services")
    assert svc_rt is not None
    sim.api.create(svc_rt, "default", {"metadata": {"name": "web"},
                                       "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    sim.api.create(_pods_rt(sim), "default", pod("p"))

    async def endpoint_ready() -> bool:
        slices = [s for s in sim.store.list(("discovery.k8s.io", "endpointslices"), "default")
                  if s["metadata"]["labels"].get("kubernetes.io/service-name") == "web"]
        return bool(slices) and any(e["conditions"]["ready"] for e in slices[0].get("endpoints") or [])

    await eventually(sim, endpoint_ready)
    sim.api.delete(_pods_rt(sim), "default", "p", {})

    async def gone() -> bool:
        return sim.store.get(PODS, "default", "p") is None

    await eventually(sim, gone)


async def test_test_hooks_flip_readiness_and_fail_pods(sim: LocalApiServer) -> None:
    sim.api.create(_pods_rt(sim), "default", pod("p"))

    async def running() -> bool:
        p = sim.store.get(PODS, "default", "p")
        return p is not None and p["status"].get("phase") == "Running"

    await eventually(sim, running)
    assert sim.sim_node is not None
    sim.sim_node.set_pod_ready("default", "p", False)
    conds = {c["type"]: c["status"] for c in sim.store.get(PODS, "default", "p")["status"]["conditions"]}  # type: ignore[index]
    assert conds["Ready"] == "False"
    sim.sim_node.fail_pod("default", "p")
    assert sim.store.get(PODS, "default", "p")["status"]["phase"] == "Failed"  # type: ignore[index]
