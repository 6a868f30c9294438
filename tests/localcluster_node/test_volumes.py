"""ConfigMap, Secret and emptyDir volumes, `items`, `defaultMode`, `subPath` and `readOnly` on a real pod, and
the redis image's writable /data: KubeRay's external-Redis sample runs `redis-server` with its ConfigMap's
redis.conf mounted by subPath and `dir /data`."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from .conftest import Cluster, requires_root

pytestmark = [pytest.mark.node, requires_root]

REDIS_CONF = ("dir /data\nport 6379\nbind 0.0.0.0\nappendonly yes\nprotected-mode no\n"
              "requirepass 5241590000000000\npidfile /data/redis-6379.pid")  # the sample's, verbatim


async def kubectl(kubectl_bin: str, cluster: Cluster, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(kubectl_bin, "--kubeconfig", str(cluster.kubeconfig), *args,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_config_map_and_secret_files_with_items_modes_sub_path_and_read_only_mounts(
        cluster: Cluster, kubectl_bin: str) -> None:
    cluster.create("configmaps", {"metadata": {"name": "ray-example"}, "data": {
        "detached_actor.py": "import ray\n", "increment_counter.py": "print(1)\n", "left-out.py": "x"}})
    cluster.create("secrets", {"metadata": {"name": "pw"}, "data": {"password": "NTI0MTU5MDAwMDAwMDAwMA=="}})
    script = ("cd /tmp/samples && ls; stat -c '%a' detached_actor.py; cat increment_counter.py; "
              "cat /tmp/pw/password; echo; stat -c '%a' /tmp/pw/password; cat /tmp/one.py; "
              "touch /tmp/samples/new 2>/dev/null || echo config-read-only; "
              "touch /tmp/ro/new 2>/dev/null || echo empty-dir-read-only; touch /tmp/rw/new && echo empty-dir-writable")
    cluster.create("pods", {"metadata": {"name": "files"}, "spec": {"restartPolicy": "Never", "volumes": [
        {"name": "samples", "configMap": {"name": "ray-example", "defaultMode": 0o777, "items": [
            {"key": "detached_actor.py", "path": "detached_actor.py"},
            {"key": "increment_counter.py", "path": "increment_counter.py"}]}},
        {"name": "pw", "secret": {"secretName": "pw"}},
        {"name": "scratch", "emptyDir": {}}], "containers": [{
            "name": "sh", "image": "busybox:1.36", "command": ["sh", "-c", script], "volumeMounts": [
                {"name": "samples", "mountPath": "/tmp/samples"},
                {"name": "samples", "mountPath": "/tmp/one.py", "subPath": "increment_counter.py"},
                {"name": "pw", "mountPath": "/tmp/pw"},
                {"name": "scratch", "mountPath": "/tmp/ro", "readOnly": True},
                {"name": "scratch", "mountPath": "/tmp/rw"}]}]}})
    await cluster.until(lambda: ((cluster.get("pods", "files") or {}).get("status") or {}).get("phase")
                        in ("Succeeded", "Failed"), timeout_s=60, what="the pod done")
    out = await kubectl(kubectl_bin, cluster, "logs", "files")
    assert out.split("\n") == ["detached_actor.py", "increment_counter.py", "777", "print(1)", "5241590000000000",
                               "644", "print(1)", "config-read-only", "empty-dir-read-only", "empty-dir-writable", ""]
    assert cluster.get("pods", "files")["status"]["phase"] == "Succeeded"  # type: ignore[index]


async def test_the_samples_redis_runs_its_config_map_redis_conf_by_sub_path_and_writes_a_data_of_its_own(
        cluster: Cluster, kubectl_bin: str) -> None:
    cluster.create("configmaps", {"metadata": {"name": "redis-config"}, "data": {"redis.conf": REDIS_CONF}})
    cluster.create("pods", {"metadata": {"name": "redis"}, "spec": {
        "volumes": [{"name": "config", "configMap": {"name": "redis-config"}}],
        "containers": [{"name": "redis", "image": "redis:7.4.0",
                        "command": ["sh", "-c", "redis-server /usr/local/etc/redis/redis.conf"],
                        "ports": [{"containerPort": 6379}],
                        "readinessProbe": {"tcpSocket": {"port": 6379}, "periodSeconds": 1},
                        "volumeMounts": [{"name": "config", "mountPath": "/usr/local/etc/redis/redis.conf",
                                          "subPath": "redis.conf"}]}]}})
    await cluster.until(lambda: cluster.pod_condition("redis", "Ready") == "True", timeout_s=60, what="redis Ready")
    ip = cluster.get("pods", "redis")["status"]["podIP"]  # type: ignore[index]
    reader, writer = await asyncio.open_connection(ip, 6379)
    try:
        async with asyncio.timeout(10):
            writer.write(b"PING\r\n")
            assert (await reader.readline()).startswith(b"-NOAUTH")  # requirepass from the mounted redis.conf
            writer.write(b"AUTH 5241590000000000\r\nSET k v\r\n")
            assert [await reader.readline(), await reader.readline()] == [b"+OK\r\n", b"+OK\r\n"]
    finally:
        writer.close()
        await writer.wait_closed()
    listing = await kubectl(kubectl_bin, cluster, "exec", "redis", "--", "sh", "-c",
                            "cat /data/redis-6379.pid; ls /data; cat /usr/local/etc/redis/redis.conf")
    pid, *rest = listing.split("\n")
    assert pid.strip().isdigit() and "appendonlydir" in rest, listing  # `dir /data`, appendonly yes
    assert "requirepass 5241590000000000" in listing
    assert host_has_none_of_the_pods_files()


def host_has_none_of_the_pods_files() -> bool:
    """The pod's /data is its own and its redis.conf a bind: the host keeps at most empty mount points."""
    host_conf = Path("/usr/local/etc/redis/redis.conf")
    return (not Path("/data/appendonlydir").exists() and not os.path.exists("/data/redis-6379.pid")
            and (not host_conf.exists() or host_conf.stat().st_size == 0))
