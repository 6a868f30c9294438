"""The operator's Redis cleanup Job, as built, run by the local cluster's Job controller and node against a real
`redis:7` pod with a password from a Secret: the Job completes and nothing is left under the cluster's storage
namespace, while another namespace's keys stay."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from rayservice.controller.raycluster.redis_cleanup import desired_cleanup_job
from tests.unit.controller.raycluster.test_gcs_ft import sample_external_redis

from .conftest import Cluster, requires_root

pytestmark = [pytest.mark.node, requires_root]

PASSWORD = "5241590000000000"  # KubeRay's sample password


async def redis(ip: str, *command: str) -> bytes:
    """One authenticated command over RESP; the raw reply."""
    reader, writer = await asyncio.open_connection(ip, 6379)
    try:
        for parts in (("AUTH", PASSWORD), command):
            writer.write(f"*{len(parts)}\r\n".encode() + b"".join(
                f"${len(p.encode())}\r\n{p}\r\n".encode() for p in parts))
        await writer.drain()
        async with asyncio.timeout(5):
            assert await reader.readline() == b"+OK\r\n"
            first = await reader.readline()
            if first.startswith(b"*"):  # an array (KEYS): read its elements
                items = []
                for _ in range(int(first[1:])):
                    await reader.readline()
                    items.append((await reader.readline()).strip())
                return b" ".join(sorted(items))
            return first.strip()
    finally:
        writer.close()
        await writer.wait_closed()


def job_state(cluster: Cluster, name: str) -> str:
    job = cluster.get("jobs", name, group="batch") or {}
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return str(condition["type"])
    return ""


async def test_the_cleanup_job_empties_the_storage_namespace_of_a_real_redis(cluster: Cluster) -> None:
    cluster.create("secrets", {"metadata": {"name": "redis-password-secret"}, "type": "Opaque",
                               "data": {"password": base64.b64encode(PASSWORD.encode()).decode()}})
    cluster.create("pods", {"metadata": {"name": "redis"}, "spec": {"containers": [{
        "name": "redis", "image": "redis:7", "args": ["--requirepass", PASSWORD], "ports": [{"containerPort": 6379}],
        "readinessProbe": {"tcpSocket": {"port": 6379}, "periodSeconds": 1}}]}})
    await cluster.until(lambda: cluster.pod_condition("redis", "Ready") == "True", what="redis Ready")
    ip = (cluster.get("pods", "redis") or {})["status"]["podIP"]
    for table in ("KV", "NODE", "ACTOR"):
        assert await redis(ip, "HSET", f"RAYns-mine@{table}", "key", "value") == b":1"
    assert await redis(ip, "HSET", "RAYns-other@KV", "key", "value") == b":1"

    ray_cluster = sample_external_redis()
    ray_cluster["spec"]["gcsFaultToleranceOptions"]["redisAddress"] = f"{ip}:6379"
    ray_cluster["spec"]["gcsFaultToleranceOptions"]["externalStorageNamespace"] = "ns-mine"
    job: dict[str, Any] = desired_cleanup_job(ray_cluster)
    # No RayCluster exists in this API server: without its owner the garbage collector would delete the Job.
    del job["metadata"]["ownerReferences"]
    name = job["metadata"]["name"]
    cluster.server.api.create(cluster.rt("jobs", "batch"), "default", job)
    await cluster.until(lambda: job_state(cluster, name), timeout_s=120.0, what="the cleanup Job finished")
    assert job_state(cluster, name) == "Complete"
    assert await redis(ip, "KEYS", "RAYns-mine*") == b""
    assert await redis(ip, "KEYS", "*") == b"RAYns-other@KV"
