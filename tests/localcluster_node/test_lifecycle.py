"""Pod lifecycle on the node: restarts per restartPolicy, liveness, and deletion (preStop, SIGTERM, grace)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from e2e.localcluster.node.netns import NETNS_ETC, pod_names

from .conftest import PREFIX, Cluster, ip, requires_root

pytestmark = [pytest.mark.node, requires_root]

REPORTER = """
import os, signal, socket, sys, time
def tell(msg):
    with socket.create_connection((os.environ["REPORT_HOST"], int(os.environ["REPORT_PORT"])), timeout=2) as s:
        s.sendall(msg.encode())
def on_term(*_):
    tell("sigterm prestop-ran=%s" % os.path.exists("/tmp/prestop-ran"))
    sys.exit(0)
signal.signal(signal.SIGTERM, signal.SIG_IGN if os.environ.get("IGNORE_TERM") else on_term)
tell("armed")
for _ in range(1200):
    time.sleep(0.05)
"""
PRE_STOP = ("import os, socket; open('/tmp/prestop-ran', 'w').close(); "
            "s = socket.create_connection((os.environ['REPORT_HOST'], int(os.environ['REPORT_PORT'])), timeout=2); "
            "s.sendall(b'prestop'); s.close()")


def status_of(cluster: Cluster, name: str) -> dict[str, Any]:
    return (cluster.get("pods", name) or {}).get("status") or {}


def container_of(cluster: Cluster, name: str) -> dict[str, Any]:
    return (status_of(cluster, name).get("containerStatuses") or [{}])[0]


def one_shot(name: str, policy: str, script: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"restartPolicy": policy, "containers": [
        {"name": "main", "image": "python:3.11", "command": ["python", "-c", script]}]}}


async def test_a_crashed_container_restarts_per_restart_policy(cluster: Cluster) -> None:
    cluster.create("pods", one_shot("always", "Always", "import sys; sys.exit(3)"))
    cluster.create("pods", one_shot("onfailure", "OnFailure", (
        "import os, sys; first = not os.path.exists('/tmp/ran'); open('/tmp/ran', 'w').close(); "
        "sys.exit(5 if first else 0)")))
    cluster.create("pods", one_shot("never", "Never", "import sys; sys.exit(1)"))
    await cluster.until(lambda: container_of(cluster, "always").get("restartCount", 0) >= 2, what="2 restarts")
    last = container_of(cluster, "always")["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (3, "Error")
    assert status_of(cluster, "always")["phase"] == "Running"  # Always: it keeps coming back
    await cluster.until(lambda: status_of(cluster, "onfailure").get("phase") == "Succeeded", what="OnFailure done")
    assert container_of(cluster, "onfailure")["restartCount"] == 1
    assert container_of(cluster, "onfailure")["state"]["terminated"]["reason"] == "Completed"
    await cluster.until(lambda: status_of(cluster, "never").get("phase") == "Failed", what="Never failed")
    assert container_of(cluster, "never")["restartCount"] == 0
    assert container_of(cluster, "never")["state"]["terminated"]["exitCode"] == 1


async def test_a_failing_liveness_probe_restarts_the_container(cluster: Cluster) -> None:
    cluster.create("pods", {"metadata": {"name": "sick"}, "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
        "name": "main", "image": "python:3.11",
        "command": ["python", "-c", "import time\nfor _ in range(600): time.sleep(0.1)"],
        "livenessProbe": {"exec": {"command": ["python", "-c", "import sys; sys.exit(1)"]}, "periodSeconds": 1,
                          "failureThreshold": 2}}]}})
    await cluster.until(lambda: container_of(cluster, "sick").get("restartCount", 0) >= 1, what="a restart")
    assert container_of(cluster, "sick")["lastState"]["terminated"]["exitCode"] in (137, 143)


async def deleted_pod_reports(cluster: Cluster, name: str, grace_s: int, *, ignore_term: bool) -> tuple[
        list[str], float, dict[str, Any]]:
    """Run a reporting pod, delete it with `grace_s`; what it reported, how long deletion took, the pod."""
    messages: asyncio.Queue[str] = asyncio.Queue()

    async def receive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        messages.put_nowait((await reader.read()).decode())
        writer.close()

    listener = await asyncio.start_server(receive, host=cluster.node.network.gateway, port=0)
    port = listener.sockets[0].getsockname()[1]
    env = [{"name": "HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
           {"name": "REPORT_HOST", "value": "$(HOST_IP)"}, {"name": "REPORT_PORT", "value": str(port)}]
    if ignore_term:
        env.append({"name": "IGNORE_TERM", "value": "1"})
    try:
        pod = cluster.create("pods", {"metadata": {"name": name}, "spec": {"containers": [{
            "name": "main", "image": "python:3.11", "command": ["python", "-c", REPORTER], "env": env,
            "lifecycle": {"preStop": {"exec": {"command": ["python", "-c", PRE_STOP]}}}}]}})
        seen = [await asyncio.wait_for(messages.get(), 15)]
        started = time.monotonic()
        cluster.server.api.delete(cluster.rt("pods"), "default", name, {"gracePeriodSeconds": grace_s})
        await cluster.until(lambda: cluster.get("pods", name) is None, what=f"{name} gone")
        took_s = time.monotonic() - started
        await asyncio.sleep(0)
        while not messages.empty():
            seen.append(messages.get_nowait())
        return seen, took_s, pod
    finally:
        listener.close()
        await listener.wait_closed()


async def test_deleting_a_pod_runs_prestop_then_sigterm_and_removes_its_namespaces(cluster: Cluster) -> None:
    seen, took_s, pod = await deleted_pod_reports(cluster, "graceful", 20, ignore_term=False)
    assert seen == ["armed", "prestop", "sigterm prestop-ran=True"]
    assert took_s < 5  # it exited on SIGTERM: no need to wait for the 20 s grace
    names = pod_names(PREFIX, "default", "graceful", pod["metadata"]["uid"])
    assert names.netns not in ip("netns", "list") and names.host_veth not in ip("-o", "link", "show")
    assert not (NETNS_ETC / names.netns).exists()
    assert not (cluster.node.config.state_path / "pods" / pod["metadata"]["uid"]).exists()


async def test_a_pod_that_ignores_sigterm_is_killed_when_its_grace_period_ends(cluster: Cluster) -> None:
    seen, took_s, _pod = await deleted_pod_reports(cluster, "stubborn", 1, ignore_term=True)
    assert seen == ["armed", "prestop"]
    assert 0.9 <= took_s < 5
