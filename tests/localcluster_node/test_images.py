"""The node's image table from a user's side: known images run their local stand-ins, unknown ones do not pull."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .conftest import Cluster, requires_root

pytestmark = [pytest.mark.node, requires_root]


def waiting(cluster: Cluster, name: str) -> dict[str, Any]:
    pod = cluster.get("pods", name) or {}
    statuses = (pod.get("status") or {}).get("containerStatuses") or [{}]
    found: dict[str, Any] = statuses[0].get("state", {}).get("waiting") or {}
    return found


async def test_an_unknown_image_waits_in_err_image_pull_then_image_pull_back_off_naming_the_table(
        cluster: Cluster) -> None:
    cluster.create("pods", {"metadata": {"name": "nginx"}, "spec": {"containers": [
        {"name": "web", "image": "nginx:1.27", "command": ["nginx"]}]}})
    seen: list[str] = []

    def record() -> bool:
        reason = waiting(cluster, "nginx").get("reason")
        if reason and (not seen or seen[-1] != reason):
            seen.append(reason)
        return "ImagePullBackOff" in seen

    await cluster.until(record, what="ImagePullBackOff")
    assert seen[seen.index("ErrImagePull"):][:2] == ["ErrImagePull", "ImagePullBackOff"]
    state = waiting(cluster, "nginx")
    assert state["message"].startswith('Back-off pulling image "nginx:1.27": image "nginx:1.27" is not in the '
                                       "local node's image table")
    assert "rayproject/ray*" in state["message"]
    pod = cluster.get("pods", "nginx")
    assert pod is not None and pod["status"]["phase"] == "Pending"
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0
    await cluster.until(lambda: record() and seen.count("ErrImagePull") >= 2, what="a second pull attempt")


async def test_a_redis_pod_answers_ping(cluster: Cluster) -> None:
    cluster.create("pods", {"metadata": {"name": "redis"}, "spec": {"containers": [{
        "name": "redis", "image": "redis:7", "ports": [{"containerPort": 6379}],
        "readinessProbe": {"tcpSocket": {"port": 6379}, "periodSeconds": 1}}]}})
    await cluster.until(lambda: cluster.pod_condition("redis", "Ready") == "True", what="redis Ready")
    pod = cluster.get("pods", "redis")
    assert pod is not None
    reader, writer = await asyncio.open_connection(pod["status"]["podIP"], 6379)
    try:
        writer.write(b"PING\r\n")
        await writer.drain()
        async with asyncio.timeout(5):
            assert await reader.readline() == b"+PONG\r\n"  # from another address: protected mode is off
    finally:
        writer.close()
        await writer.wait_closed()


async def test_a_busybox_pod_runs_sh_c_with_the_hosts_shell(cluster: Cluster, kubectl_bin: str) -> None:
    cluster.create("pods", {"metadata": {"name": "bb"}, "spec": {"restartPolicy": "Never", "containers": [{
        "name": "sh", "image": "busybox:1.36", "command": ["sh", "-c", 'echo "answer $((6 * 7)) in $(hostname)"']}]}})
    await cluster.until(lambda: ((cluster.get("pods", "bb") or {}).get("status") or {}).get("phase") == "Succeeded",
                        what="bb Succeeded")
    proc = await asyncio.create_subprocess_exec(kubectl_bin, "--kubeconfig", str(cluster.kubeconfig), "logs", "bb",
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert out.decode().strip() == "answer 42 in bb"
