"""Each pod runs in its own CPU cgroup weighted by its CPU request, as kubelet places pods."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from e2e.localcluster.node.cgroups import CpuCgroups

from .conftest import PREFIX, Cluster, requires_root

pytestmark = [pytest.mark.node, requires_root]


def sleeper(name: str, cpu: str | None) -> dict[str, object]:
    resources = {"requests": {"cpu": cpu}} if cpu else {}
    return {"metadata": {"name": name}, "spec": {"containers": [{
        "name": "main", "image": "python:3.11", "command": ["python", "-c", "import time; time.sleep(600)"],
        "resources": resources}]}}


def cpu_group_of(pid: int) -> str:
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "cpu" in controllers.split(","):
            return path
    return ""


async def test_every_process_of_a_pod_is_in_its_group_weighted_by_its_request_and_the_group_goes_with_it(
        cluster: Cluster) -> None:
    groups = CpuCgroups.detect("probe-only")  # what the agent found: this machine's controller (or none)
    if groups is None:
        pytest.skip("this machine has no writable CPU cgroup controller")
    groups.close()
    node_group = groups.hierarchy.root / f"localcluster-{PREFIX}"
    cluster.create("pods", sleeper("weighted", "500m"))
    cluster.create("pods", sleeper("besteffort", None))
    await cluster.until(lambda: all((cluster.get("pods", n) or {}).get("status", {}).get("phase") == "Running"
                                    for n in ("weighted", "besteffort")), what="both Running")
    for name, shares in (("weighted", 512), ("besteffort", 2)):
        pod = cluster.get("pods", name) or {}
        group = node_group / f"pod{pod['metadata']['uid']}"
        weight = (group / "cpu.weight").read_text() if groups.hierarchy.v2 else (group / "cpu.shares").read_text()
        assert int(weight) == (1 + ((shares - 2) * 9999) // 262142 if groups.hierarchy.v2 else shares)
        pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
        assert len(pids) >= 2, pids  # the pod's init and its container (with nsenter in front of it)
        code, out = await cluster.node.agent.exec_in_pod("default", name, ["cat", "/proc/self/cgroup"])
        assert code == 0, out
        assert f"localcluster-{PREFIX}/pod{pod['metadata']['uid']}" in out.decode()  # exec runs in the pod's group
        assert cpu_group_of(pids[0]).endswith(f"/pod{pod['metadata']['uid']}")
    assert int((node_group / ("cpu.weight" if groups.hierarchy.v2 else "cpu.shares")).read_text()) > 2
    uid = (cluster.get("pods", "weighted") or {})["metadata"]["uid"]
    cluster.server.api.delete(cluster.rt("pods"), "default", "weighted", {"gracePeriodSeconds": 0})
    await cluster.until(lambda: cluster.get("pods", "weighted") is None, what="weighted gone")
    for _ in range(100):
        if not (node_group / f"pod{uid}").exists():
            break
        await asyncio.sleep(0.05)
    assert not (node_group / f"pod{uid}").exists()
